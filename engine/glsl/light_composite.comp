#version 450
#extension GL_GOOGLE_include_directive : require
// The tiled lighting's composite in compute (targets with a storage view of their picture:
// GPUs): adds LightAccum (RGB 10:10:10 unorm a pixel, light_tiled.comp) to the picture in the
// lit tiles.
#ifndef LIGHT_TILE
#define LIGHT_TILE 16
#endif
#define COMPOSITE_TILE LIGHT_TILE

layout(std430, set = 0, binding = 0) readonly buffer LightAccum {
    uint accum[];              // width * height
};
layout(std430, set = 0, binding = 1) readonly buffer LightTiles {
    uint tiles[];
};

bool composite_value(uint pixel, out vec3 rgb) {
    uint q = accum[pixel];
    rgb = vec3(uvec3(q, q >> 10, q >> 20) & 1023U) * (1.0 / 1023.0);
    return q != 0U;
}

#include "tile_composite.glsl"
