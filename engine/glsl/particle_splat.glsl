// Shared by particle_splat.comp and particle_composite.frag: the layout and fixed-point scale of
// the splat accumulation (SplatAccum).
//
// SPLAT_SCALE units per 1.0 of colour: 2048 keeps 1/8 of an 8-bit step of precision.
//
// Two layouts, chosen when the shaders are compiled:
// - SPLAT_PACKED defined (the device has 64-bit buffer atomics): one uint64 per pixel, read as
//   two uints (lo, hi): R in bits 0-20, G in bits 21-41, B in bits 42-63. The splat adds a
//   pixel's three channels with one atomicAdd. A channel holds 2^21 - 1 units (B 2^22 - 1):
//   1023 full-brightness sprites on one pixel (Wisp's densest pixel at 10 million particles
//   sums to about 170); past that a channel carries into the next one.
// - otherwise: three uints per pixel (R, G, B), three atomicAdds; a channel overflows past
//   2,097,151 full-brightness sprites on one pixel.
const float SPLAT_SCALE = 2048.0;

#ifdef SPLAT_PACKED
const uint SPLAT_WORDS = 2U;   // uints per pixel
// The three channels of a pixel from its two words.
uvec3 splat_unpack(uint lo, uint hi) {
    return uvec3(lo & 0x1FFFFFU, (lo >> 21) | ((hi & 0x3FFU) << 11), hi >> 10);
}
#else
const uint SPLAT_WORDS = 3U;
#endif

// Tile edge (pixels) of SplatTiles: the composite draws one quad per touched tile only.
const int SPLAT_TILE = 16;
