#version 450
#extension GL_GOOGLE_include_directive : require
// Wisp's props (pillars, orbs): one unit mesh per kind, placed by the object's block, which
// this draw reads from the props UniformRing at its dynamic offset. Writes what scene.vert
// writes, so the engine's scene.frag fills the G-buffer the same way.
#include "globals.glsl"

layout(location = 0) in vec3 in_position;   // unit mesh (box: -0.5..0.5, sphere: radius 1)
layout(location = 1) in vec3 in_normal;     // unit, constant over each triangle

layout(std140, set = 0, binding = 1) uniform Object {
    mat4 model;    // unit mesh -> world (scale, then translation)
    vec4 color;    // rgb: albedo, a: emissive strength
} obj;

layout(location = 0) out vec2 v_ground;
layout(location = 1) flat out vec4 v_color;
layout(location = 2) flat out uint v_normal;
layout(location = 3) flat out float v_is_ground;

void main() {
    vec4 world = obj.model * vec4(in_position, 1.0);
    // Axis-aligned face normals under a scale (and the sphere's under a uniform one) keep
    // their direction: normalising the scaled normal is exact for these meshes.
    vec3 n = normalize(mat3(obj.model) * in_normal);
    v_ground = world.xz * 0.5;
    v_color = obj.color;
    v_normal = packUnorm4x8(vec4(oct_encode(n), 0.0, 0.0)) & 0xFFFFU;
    v_is_ground = 0.0;
    gl_Position = ubo.view_proj * world;
}
