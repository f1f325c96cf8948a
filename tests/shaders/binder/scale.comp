#version 450
// ResourceBinder test: out[i] = in[i] * scale + bias + pc.add for i < count.
// Uses descriptor sets 0 and 2 (set 1 is a gap: the binder must give it an empty layout)
// and a push-constant block.

layout(local_size_x = 64, local_size_y = 1, local_size_z = 1) in;

layout(std140, set = 0, binding = 0) uniform Params {
    float scale;
    float bias;
    uint count;
} params;

layout(std430, set = 0, binding = 1) readonly buffer InBuf {
    float data[];
} inBuf;

layout(std430, set = 2, binding = 0) writeonly buffer OutBuf {
    float data[];
} outBuf;

layout(push_constant) uniform Push {
    float add;
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < params.count) {
        outBuf.data[i] = inBuf.data[i] * params.scale + params.bias + pc.add;
    }
}
