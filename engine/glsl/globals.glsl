// GlobalUbo: the per-frame camera/global block (std140, 320 bytes), written by the
// CameraSystem through a GlobalUboSet (one buffer per frame slot). Matrices are column-major;
// clip space is Vulkan's (y down, depth 0..1). Units: world units, seconds, pixels.
layout(std140, set = 0, binding = 0) uniform GlobalUbo {
    mat4 view;
    mat4 proj;
    mat4 view_proj;
    mat4 inv_view_proj;
    vec4 camera_pos;      // xyz: eye position
    vec4 viewport;        // width, height, 1/width, 1/height (pixels)
    vec4 ambient;         // rgb: ambient light; a: fog density
    float time;           // simulation time (s)
    float dt;             // simulation step (s)
    uint light_count;     // lights in LightBuffer
    uint particle_count;  // particle slots simulated
} ubo;
