#version 450
#extension GL_GOOGLE_include_directive : require
// Adds the splat accumulation (fixed point, particle_splat.comp) to the lit picture; the
// pipeline blends ONE + ONE into the colour target. Empty pixels are discarded (no blend).
#include "particle_splat.glsl"

layout(std430, set = 0, binding = 0) readonly buffer SplatAccum {
    uint accum[];              // width * height * SPLAT_WORDS (particle_splat.glsl)
};

layout(push_constant) uniform CompositePush {
    uint width;                // pixels per row of SplatAccum (the target's width)
    uint height;
    uint tiles_x;
} pc;

layout(location = 0) out vec4 out_color;

void main() {
    uvec2 p = uvec2(gl_FragCoord.xy);
    uint base = (p.y * pc.width + p.x) * SPLAT_WORDS;
#ifdef SPLAT_PACKED
    uvec3 q = splat_unpack(accum[base], accum[base + 1U]);
#else
    uvec3 q = uvec3(accum[base], accum[base + 1U], accum[base + 2U]);
#endif
    if (q.r + q.g + q.b == 0U) {
        discard;
    }
    out_color = vec4(vec3(q) * (1.0 / SPLAT_SCALE), 0.0);
}
