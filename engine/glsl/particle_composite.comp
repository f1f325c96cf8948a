#version 450
#extension GL_GOOGLE_include_directive : require
// The splat composite in compute (targets with a storage view of their picture: GPUs): adds
// SplatAccum (fixed point, particle_splat.comp) to the picture in the flagged tiles.
#include "particle_splat.glsl"
#define COMPOSITE_TILE 16      // SPLAT_TILE

layout(std430, set = 0, binding = 0) readonly buffer SplatAccum {
    uint accum[];              // width * height * SPLAT_WORDS (particle_splat.glsl)
};
layout(std430, set = 0, binding = 1) readonly buffer SplatTiles {
    uint tiles[];
};

bool composite_value(uint pixel, out vec3 rgb) {
    uint base = pixel * SPLAT_WORDS;
#ifdef SPLAT_PACKED
    uvec3 q = splat_unpack(accum[base], accum[base + 1U]);
#else
    uvec3 q = uvec3(accum[base], accum[base + 1U], accum[base + 2U]);
#endif
    rgb = vec3(q) * (1.0 / SPLAT_SCALE);
    return q.r + q.g + q.b != 0U;
}

#include "tile_composite.glsl"
