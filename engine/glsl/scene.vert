#version 450
#extension GL_GOOGLE_include_directive : require
// Scene geometry (ground plane and shapes): per-vertex position, normal and material. The
// normal is encoded here (faces are flat), so the fragment shader does little per pixel.
#include "globals.glsl"

layout(location = 0) in vec3 in_position;   // world units
layout(location = 1) in vec3 in_normal;     // unit, constant over each triangle
layout(location = 2) in vec4 in_color;      // rgb: albedo, a: emissive strength

layout(location = 0) out vec2 v_ground;          // world xz / tile size (ground only)
layout(location = 1) flat out vec4 v_color;
layout(location = 2) flat out uint v_normal;     // octahedral normal, 8:8
layout(location = 3) flat out float v_is_ground;

void main() {
    v_ground = in_position.xz * 0.5;
    v_color = in_color;
    v_normal = packUnorm4x8(vec4(oct_encode(in_normal), 0.0, 0.0)) & 0xFFFFU;
    v_is_ground = (in_position.y < 0.001 && in_normal.y > 0.9) ? 1.0 : 0.0;
    gl_Position = ubo.view_proj * vec4(in_position, 1.0);
}
