#version 450
// Compute shader, local size 64x1x1: a std140 parameter UBO, a std430 SSBO with vec3 members,
// arrays of structs and a runtime array of structs, readonly/writeonly SSBOs.

layout(local_size_x = 64, local_size_y = 1, local_size_z = 1) in;

struct Emitter {
    vec3 position;
    float rate;
    vec3 velocity;
    uint seed;
    vec2 lifeRange;
};

struct Particle {
    vec3 position;
    float life;
    vec3 velocity;
    float size;
    vec4 color;
};

layout(std140, set = 0, binding = 0) uniform SimParams {
    float dt;
    uint count;
    vec3 gravity;
    float drag;
    vec4 bounds[2];
    float weights[4];
    mat3 rotation;
    Emitter emitters[2];
} params;

layout(std430, set = 0, binding = 1) buffer ParticleBuffer {
    vec3 origin;
    float pad0;
    vec3 extent;
    Emitter emitters[4];
    vec3 tints[3];
    float weights[4];
    Particle particles[];
} pbuf;

layout(std430, set = 0, binding = 2) readonly buffer InBuf {
    float data[];
} inBuf;

layout(std430, set = 0, binding = 3) writeonly buffer OutBuf {
    float data[];
} outBuf;

layout(std430, set = 1, binding = 0) buffer Counters {
    uint alive;
    uint dead;
    ivec2 cursor;
    dvec2 accum;
    float grid[2][3];
    mat2x3 basis;
    mat3x2 basisT;
} counters;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= params.count) return;
    Particle p = pbuf.particles[i];
    p.velocity += (params.gravity + pbuf.emitters[i & 3u].velocity) * params.dt * params.weights[1];
    p.position += params.rotation * p.velocity * params.drag + pbuf.tints[i % 3u] + pbuf.origin;
    p.life -= params.dt * pbuf.weights[2] + params.emitters[1].rate + params.bounds[1].x;
    pbuf.particles[i] = p;
    outBuf.data[i] = inBuf.data[i] * float(counters.accum.x) + counters.grid[1][2]
                   + counters.basis[1].z + counters.basisT[2].y;
    atomicAdd(counters.alive, 1u);
    counters.cursor = ivec2(pbuf.extent.xy);
}
