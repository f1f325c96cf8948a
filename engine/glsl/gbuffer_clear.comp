#version 450
// Clears the packed G-buffer surface (R32G32_UINT) to 0, "nothing drawn: sky", in compute
// before the deferred render pass, which then loads it (engine/render/surface_clear.py).
// One invocation a pixel, 8 x 8 a workgroup.
layout(local_size_x = 8, local_size_y = 8) in;

layout(rg32ui, set = 0, binding = 0) writeonly uniform uimage2D surface;

layout(push_constant) uniform ClearPush {
    uint width;                // pixels of the surface
    uint height;
} pc;

void main() {
    uvec2 p = gl_GlobalInvocationID.xy;
    if (p.x < pc.width && p.y < pc.height) {
        imageStore(surface, ivec2(p), uvec4(0U));
    }
}
