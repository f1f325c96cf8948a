#version 450
#extension GL_GOOGLE_include_directive : require
// Light volumes: one camera-facing octagon per light (instance, 6 triangles, 18 vertices),
// sized to cover the light's sphere of influence on screen (an octagon wastes 17% fewer
// pixels than a square). The light is fetched by gl_InstanceIndex from LightBuffer.
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
layout(location = 2) out vec3 v_ray;            // eye -> quad point, world units
layout(location = 3) out vec2 v_corner;         // unit circle = the sphere's silhouette
layout(location = 4) flat out vec2 v_depth;     // x: light's view depth, y: 1 / quad view depth

const float OCT = 1.0823922;   // 1 / cos(22.5 deg): the octagon around the unit circle
const int FAN[18] = int[](0, 1, 2, 0, 2, 3, 0, 3, 4, 0, 4, 5, 0, 5, 6, 0, 6, 7);

vec2 octagon_corner(int i) {
    float a = 0.3926991 + 0.7853982 * float(FAN[i]);
    return vec2(cos(a), sin(a)) * OCT;
}

void main() {
    Light light = lights[gl_InstanceIndex];
    vec3 center = light.position_radius.xyz;
    float radius = light.position_radius.w;
    float wave = sin(ubo.time * 6.2831853 * light.pulse.x + light.pulse.y);
    float intensity = light.color_intensity.a * (1.0 - light.pulse.z * (0.5 + 0.5 * wave));
    v_light = light.position_radius;
    v_color = vec4(light.color_intensity.rgb * intensity, light.pulse.w);
    vec2 corner = octagon_corner(gl_VertexIndex);
    v_corner = corner;

    vec4 center_view = ubo.view * vec4(center, 1.0);
    float dist = length(center_view.xyz);
    if (dist <= radius * 1.05) {
        // Camera inside the sphere: cover the screen; rays to the far plane.
        vec2 screen = corner * 1.4142136;
        vec4 far_point = ubo.inv_view_proj * vec4(screen, 1.0, 1.0);
        v_ray = far_point.xyz / far_point.w - ubo.camera_pos.xyz;
        vec4 far_view = ubo.view * vec4(far_point.xyz / far_point.w, 1.0);
        v_depth = vec2(-center_view.z, 1.0 / -far_view.z);
        v_corner = corner * 0.5;     // no silhouette discard, no glow
        gl_Position = vec4(screen, 1.0, 1.0);
        return;
    }
    // Half-size of the sphere's tangent cone at the centre's depth.
    float half_size = radius * dist / sqrt(dist * dist - radius * radius);
    vec4 corner_view = vec4(center_view.xy + corner * half_size, center_view.z, 1.0);
    vec4 clip = ubo.proj * corner_view;
    // World-space ray from the eye to this corner (interpolates linearly across the quad).
    vec3 corner_world = (inverse(mat3(ubo.view)) * (corner_view.xyz - ubo.view[3].xyz));
    v_ray = corner_world - ubo.camera_pos.xyz;
    v_depth = vec2(-center_view.z, 1.0 / -center_view.z);
    // Depth of the sphere's far side: with compare GREATER_OR_EQUAL (early tests) pixels whose
    // surface lies beyond the light's reach (and the sky) are rejected before shading.
    vec4 back = ubo.proj * vec4(center_view.xy, center_view.z - radius, 1.0);
    float back_depth = clamp(back.z / back.w, 0.0, 1.0);
    gl_Position = vec4(clip.xy, back_depth * clip.w, clip.w);
}
