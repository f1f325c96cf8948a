#version 450
#extension GL_GOOGLE_include_directive : require
// Light volumes: one camera-facing quad per light (instance), sized to cover the light's
// sphere of influence on screen. The light is fetched by gl_InstanceIndex from LightBuffer.
#include "globals.glsl"

struct Light {                 // std430, 48 bytes
    vec4 position_radius;      // xyz: world position, w: radius (world units)
    vec4 color_intensity;      // rgb: colour, a: intensity
    vec4 pulse;                // x: frequency (Hz), y: phase (rad), z: depth 0..1, w: glow
};
layout(std430, set = 0, binding = 1) readonly buffer LightBuffer {
    Light lights[];
};

layout(location = 0) flat out vec4 v_light;     // xyz position, w radius
layout(location = 1) flat out vec4 v_color;     // rgb * intensity (pulsed), a: glow
layout(location = 2) out vec2 v_corner;         // -1..1 across the quad
layout(location = 3) flat out float v_light_depth;

const vec2 CORNERS[6] = vec2[](vec2(-1, -1), vec2(1, -1), vec2(1, 1),
                               vec2(-1, -1), vec2(1, 1), vec2(-1, 1));

void main() {
    Light light = lights[gl_InstanceIndex];
    vec3 center = light.position_radius.xyz;
    float radius = light.position_radius.w;
    float wave = sin(ubo.time * 6.2831853 * light.pulse.x + light.pulse.y);
    float intensity = light.color_intensity.a * (1.0 - light.pulse.z * (0.5 + 0.5 * wave));
    v_light = light.position_radius;
    v_color = vec4(light.color_intensity.rgb * intensity, light.pulse.w);
    vec2 corner = CORNERS[gl_VertexIndex];
    v_corner = corner;

    vec4 center_view = ubo.view * vec4(center, 1.0);
    float dist = length(center_view.xyz);
    vec4 light_clip = ubo.proj * center_view;
    v_light_depth = light_clip.z / max(light_clip.w, 1e-4);
    if (dist <= radius * 1.05) {
        gl_Position = vec4(corner, 0.0, 1.0);          // camera inside: cover the screen
        return;
    }
    // Half-size of the sphere's tangent cone at the centre's depth.
    float half_size = radius * dist / sqrt(dist * dist - radius * radius);
    vec4 corner_view = vec4(center_view.xy + corner * half_size, center_view.z, 1.0);
    vec4 clip = ubo.proj * corner_view;
    gl_Position = vec4(clip.xy, 0.0, clip.w);          // depth 0: never clipped by far plane
}
