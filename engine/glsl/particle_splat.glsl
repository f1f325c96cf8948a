// Shared by particle_splat.comp and particle_composite.frag: the fixed-point scale of the
// splat accumulation (SplatAccum: three uint per pixel, R, G, B). 4096 units per 1.0 keeps
// 1/16 of an 8-bit step of precision and overflows only past 1,048,575 (a million
// full-brightness sprites on one pixel).
const float SPLAT_SCALE = 4096.0;

// Tile edge (pixels) of SplatTiles: the composite draws one quad per touched tile only.
const int SPLAT_TILE = 16;
