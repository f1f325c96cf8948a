#version 450
#extension GL_GOOGLE_include_directive : require
// Scene geometry (ground plane and shapes): per-vertex position, normal and material.
#include "globals.glsl"

layout(location = 0) in vec3 in_position;   // world units
layout(location = 1) in vec3 in_normal;
layout(location = 2) in vec4 in_color;      // rgb: albedo, a: emissive strength

layout(location = 0) out vec3 v_world;
layout(location = 1) out vec3 v_normal;
layout(location = 2) out vec4 v_color;

void main() {
    v_world = in_position;
    v_normal = in_normal;
    v_color = in_color;
    gl_Position = ubo.view_proj * vec4(in_position, 1.0);
}
