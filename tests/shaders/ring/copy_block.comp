#version 450
// Copies the uniform block at this dispatch's dynamic offset into Out at 8 words per dispatch
// (push constant `slot` picks where), so a test can read back which block each offset chose.
layout(local_size_x = 1) in;

layout(set = 0, binding = 0, std140) uniform Object {
    vec4 color;
    uint id;
    float scale;
} obj;

layout(set = 0, binding = 1, std430) buffer Out {
    uint words[];
} outbuf;

layout(push_constant) uniform Push {
    uint slot;
} pc;

void main() {
    uint base = pc.slot * 8u;
    outbuf.words[base + 0u] = floatBitsToUint(obj.color.x);
    outbuf.words[base + 1u] = floatBitsToUint(obj.color.y);
    outbuf.words[base + 2u] = floatBitsToUint(obj.color.z);
    outbuf.words[base + 3u] = floatBitsToUint(obj.color.w);
    outbuf.words[base + 4u] = obj.id;
    outbuf.words[base + 5u] = floatBitsToUint(obj.scale);
    outbuf.words[base + 6u] = 0xC0FFEEu;
    outbuf.words[base + 7u] = pc.slot;
}
