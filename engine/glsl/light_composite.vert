#version 450
// The tiled-lighting composite: one quad (6 vertices) per LIGHT_TILE x LIGHT_TILE tile,
// instanced over every tile; a tile no light reached (LightTiles flag 0, light_tiled.comp)
// collapses outside the clip volume, so only lit tiles reach the fragment shader.

#ifndef LIGHT_TILE
#define LIGHT_TILE 16
#endif

layout(std430, set = 0, binding = 1) readonly buffer LightTiles {
    uint tiles[];
};

layout(push_constant) uniform CompositePush {
    uint width;                // pixels of the target (LightAccum's row length)
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
                   * LIGHT_TILE;
    vec2 pixel = min(vec2(corner), vec2(pc.width, pc.height));
    gl_Position = vec4(pixel / vec2(pc.width, pc.height) * 2.0 - 1.0, 0.0, 1.0);
}
