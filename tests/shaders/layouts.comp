#version 450
// Layout corner cases: row-major matrices, nested structs, bools, arrays of arrays, scalar and
// vector arrays under std140, spec-constant array sizes and local size, texel buffers, images.

layout(local_size_x_id = 0, local_size_y = 4) in;
layout(constant_id = 1) const int ENTRY_COUNT = 5;

struct Inner {
    vec2 uv;
    float w;
};

struct Outer {
    float a;
    Inner inner;
    Inner inners[2];
    bool flag;
};

layout(std140, set = 0, binding = 0) uniform Std140Block {
    layout(row_major) mat3 rm;
    float f[3];
    vec2 v2;
    vec2 v2s[2];
    vec3 v3s[2];
    Outer outer;
    bool b;
    bvec2 bb;
    float grid[2][3];
    mat2 m2;
    layout(row_major) mat2x3 rm23;
} s140;

layout(std430, set = 0, binding = 1) buffer Std430Block {
    Outer outers[ENTRY_COUNT];
    float f[3];
    vec2 v2s[2];
    vec3 v3s[2];
    mat3 m3;
    layout(row_major) mat3 rm3;
    uvec3 counts;
    float tail;
    vec4 rest[][2];
} s430;

layout(set = 0, binding = 2) uniform samplerBuffer texels;
layout(set = 0, binding = 3, r32f) uniform imageBuffer storageTexels;
layout(set = 0, binding = 4, r32ui) uniform readonly uimage3D volume;
layout(set = 0, binding = 5) uniform isampler2DArray intLayers;
layout(set = 0, binding = 6) uniform textureBuffer plainTexels;

void main() {
    uint i = gl_GlobalInvocationID.x;
    float x = s140.f[1] + s140.v2.x + s140.outer.inner.w + s140.outer.inners[1].uv.y
            + s140.grid[1][2] + s140.m2[1][0] + s140.rm23[1][2] + s140.v2s[1].y + s140.v3s[1].z
            + s140.rm[2][1] + float(s140.b) + float(s140.bb.y) + s140.outer.a;
    x += texelFetch(texels, int(i)).x + float(imageLoad(volume, ivec3(i)).x)
       + float(texelFetch(intLayers, ivec3(0), 0).x) + texelFetch(plainTexels, 0).x;
    s430.outers[i % uint(ENTRY_COUNT)].a = x + s430.f[2] + s430.v2s[1].x + s430.v3s[1].z
        + s430.m3[2][1] + s430.rm3[1][2] + float(s430.counts.z) + s430.tail
        + s430.rest[i][1].w + float(s430.outers[0].flag);
    imageStore(storageTexels, int(i), vec4(x));
}
