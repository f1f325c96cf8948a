#version 450
// Adds the tiled lighting's sum (LightAccum: RGB 10:10:10 unorm a pixel, light_tiled.comp) to
// the picture; the pipeline blends ONE + ONE into the colour target. Unlit pixels discard.

layout(std430, set = 0, binding = 0) readonly buffer LightAccum {
    uint accum[];              // width * height
};

layout(push_constant) uniform CompositePush {
    uint width;                // pixels per row of LightAccum (the target's width)
    uint height;
    uint tiles_x;
} pc;

layout(location = 0) out vec4 out_color;

void main() {
    uvec2 p = uvec2(gl_FragCoord.xy);
    uint q = accum[p.y * pc.width + p.x];
    if (q == 0U) {
        discard;
    }
    out_color = vec4(vec3(uvec3(q, q >> 10, q >> 20) & 1023U) * (1.0 / 1023.0), 0.0);
}
