#version 450
#extension GL_GOOGLE_include_directive : require
// The splat composite: one quad (6 vertices) per SPLAT_TILE x SPLAT_TILE tile of the screen,
// instanced over every tile; a tile no sprite touched (SplatTiles flag 0) collapses outside
// the clip volume, so only touched tiles reach the fragment shader. No vertex buffer.
#include "particle_splat.glsl"

layout(std430, set = 0, binding = 1) readonly buffer SplatTiles {
    uint tiles[];
};

layout(push_constant) uniform CompositePush {
    uint width;                // pixels of the target (SplatAccum's row length)
    uint height;
    uint tiles_x;              // tiles per row
} pc;

const ivec2 QUAD[6] = ivec2[](ivec2(0, 0), ivec2(1, 0), ivec2(0, 1),
                              ivec2(1, 0), ivec2(1, 1), ivec2(0, 1));

void main() {
    uint tile = uint(gl_InstanceIndex);
    if (tiles[tile] == 0U) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);   // outside the clip volume: nothing drawn
        return;
    }
    ivec2 corner = (ivec2(int(tile % pc.tiles_x), int(tile / pc.tiles_x)) + QUAD[gl_VertexIndex])
                   * SPLAT_TILE;
    vec2 pixel = min(vec2(corner), vec2(pc.width, pc.height));
    gl_Position = vec4(pixel / vec2(pc.width, pc.height) * 2.0 - 1.0, 0.0, 1.0);
}
