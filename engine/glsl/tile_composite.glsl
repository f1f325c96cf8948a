// The compute composite's body, shared by particle_composite.comp and light_composite.comp
// (engine/render/tile_composite.py): one workgroup per COMPOSITE_TILE x COMPOSITE_TILE tile,
// one invocation a pixel. A tile whose flag is 0 returns at once; in a flagged tile each pixel
// with something to add (composite_value, defined by the including shader) reads the picture,
// adds the value and stores it, clamped at 1.0: the same sum the raster composite's additive
// blend makes into the UNORM target (alpha is kept). The picture is an R8G8B8A8 view of the
// B8G8R8A8 target, so its r and b channels hold blue and red.
layout(local_size_x = COMPOSITE_TILE, local_size_y = COMPOSITE_TILE) in;

layout(rgba8, set = 1, binding = 0) uniform image2D picture;

layout(push_constant) uniform CompositePush {
    uint width;                // pixels of the target
    uint height;
    uint tiles_x;              // tiles per row
} pc;

void main() {
    uint tile = gl_WorkGroupID.x + gl_WorkGroupID.y * pc.tiles_x;
    if (tiles[tile] == 0U) {
        return;
    }
    uvec2 p = gl_GlobalInvocationID.xy;
    if (p.x >= pc.width || p.y >= pc.height) {
        return;
    }
    vec3 rgb;
    if (!composite_value(p.y * pc.width + p.x, rgb)) {
        return;
    }
    ivec2 c = ivec2(p);
    vec4 v = imageLoad(picture, c);
    v.bgr = min(v.bgr + rgb, vec3(1.0));
    imageStore(picture, c, v);
}
