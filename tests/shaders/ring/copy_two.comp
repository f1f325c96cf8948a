#version 450
// Two dynamic bindings in two sets (a uniform block and a read-only storage block): each
// dispatch copies both blocks' words into Out, 4 words per dispatch, so a test can see that
// the offsets are consumed by set, then binding.
layout(local_size_x = 1) in;

layout(set = 0, binding = 0, std140) uniform Tint {
    uvec2 tint;
} a;

layout(set = 0, binding = 1, std430) buffer Out {
    uint words[];
} outbuf;

layout(set = 1, binding = 0, std430) readonly buffer Extra {
    uint value;
    uint more;
} b;

layout(push_constant) uniform Push {
    uint slot;
} pc;

void main() {
    uint base = pc.slot * 4u;
    outbuf.words[base + 0u] = a.tint.x;
    outbuf.words[base + 1u] = a.tint.y;
    outbuf.words[base + 2u] = b.value;
    outbuf.words[base + 3u] = b.more;
}
