#version 450
// games/asteroids: keep the rocks that touch the view, append them to Visible, and count them
// into the indexed indirect draw's instanceCount (the CPU never learns the count).

layout(local_size_x = 64) in;

struct Rock {
    vec2 pos;      // world units; the view spans +-half_view around the origin
    float angle;   // radians
    float scale;   // radius in world units
    vec4 color;    // rgb tint, a unused
};

layout(std430, set = 0, binding = 0) readonly buffer Rocks { Rock rocks[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Visible { Rock visible[]; };
layout(std430, set = 0, binding = 2) buffer DrawArgs {
    uint index_count;     // VkDrawIndexedIndirectCommand, zeroed by fill_buffer each frame
    uint instance_count;
    uint first_index;
    int vertex_offset;
    uint first_instance;
} args;

layout(push_constant) uniform Cull {
    vec2 half_view;       // world units
    uint count;           // rocks in Rocks
    uint index_count;     // indices of the rock mesh
} cull;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i == 0u) {
        args.index_count = cull.index_count;
    }
    if (i >= cull.count) {
        return;
    }
    Rock r = rocks[i];
    if (any(greaterThan(abs(r.pos) - vec2(r.scale), cull.half_view))) {
        return;   // entirely outside the view
    }
    visible[atomicAdd(args.instance_count, 1u)] = r;
}
