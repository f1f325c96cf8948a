#version 450
// Scatter of packed rows into a buffer (BufferManager.update_rows on DEVICE_LOCAL buffers).
// Staged: `rows` rows of `words_per_row` uint words at word `rows_word` of Staged, then their
// `rows` destination row indices (unique, in any order) at word `index_word`. One invocation per
// word; 2D dispatch when one row of groups would exceed maxComputeWorkGroupCount[0]
// (`row_stride` invocations per dispatch row).
layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Staged {
    uint words[];
} staged;

layout(std430, set = 0, binding = 1) buffer Target {
    uint words[];
} target;

layout(push_constant) uniform Scatter {
    uint rows;
    uint words_per_row;
    uint rows_word;
    uint index_word;
    uint row_stride;
    uint per_row;
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * pc.row_stride;
    uint n = pc.words_per_row;
    if (pc.per_row != 0u) {
        if (i >= pc.rows) {
            return;
        }
        uint dst = staged.words[pc.index_word + i] * n;
        uint src = pc.rows_word + i * n;
        for (uint w = 0u; w < n; ++w) {
            target.words[dst + w] = staged.words[src + w];
        }
        return;
    }
    if (i >= pc.rows * n) {
        return;
    }
    uint row = i / n;
    uint word = i - row * n;
    uint dst_row = staged.words[pc.index_word + row];
    target.words[dst_row * n + word] = staged.words[pc.rows_word + i];
}
