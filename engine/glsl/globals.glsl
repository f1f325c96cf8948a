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

// The packed G-buffer (R32G32_UINT): x = albedo RGB8 + emissive8; y = octahedral normal 8:8
// (low 16 bits) + linear view depth as unorm16 of GBUFFER_DEPTH_RANGE units (high 16 bits;
// 0 = nothing drawn, the sky).
const float GBUFFER_DEPTH_RANGE = 256.0;

vec2 oct_encode(vec3 n) {
    n /= abs(n.x) + abs(n.y) + abs(n.z);
    vec2 e = n.xz;
    if (n.y < 0.0) {
        e = (1.0 - abs(e.yx)) * vec2(e.x >= 0.0 ? 1.0 : -1.0, e.y >= 0.0 ? 1.0 : -1.0);
    }
    return e * 0.5 + 0.5;
}

vec3 oct_decode(vec2 e) {
    e = e * 2.0 - 1.0;
    vec3 n = vec3(e.x, 1.0 - abs(e.x) - abs(e.y), e.y);
    if (n.y < 0.0) {
        n.xz = (1.0 - abs(n.zx)) * vec2(n.x >= 0.0 ? 1.0 : -1.0, n.z >= 0.0 ? 1.0 : -1.0);
    }
    return normalize(n);
}
