#version 450
// Particle simulation, one invocation per particle slot, in place over ParticleBuffer
// (DEVICE_LOCAL). Each slot belongs to one emitter (set when the emitter's range is allocated).
// Dead slots respawn with a probability that makes the emitter's spawn rate `rate` particles
// per second in steady state, or all at once on a burst. Alive particles: gravity, drag,
// ground bounce, colour ramp and fade. The random stream is a hash of (slot, frame number), so
// a run is deterministic. Dispatch: 2D when one row of groups would exceed
// maxComputeWorkGroupCount[0]; `row_stride` is the invocations per row.
// ParticleStats.alive counts the particles alive after this step (one atomic per workgroup
// on a shared count; the host clears it each frame and reads it back a few frames later).
layout(local_size_x = 256) in;

struct Particle {              // std430, 64 bytes
    vec4 pos_life;             // xyz: position (world units), w: seconds left (<= 0: dead)
    vec4 vel_age;              // xyz: velocity (units/s), w: total lifetime (s)
    vec4 color;                // rgba after ramp and fade (the draw reads it)
    float size;                // world-space diameter
    uint emitter;              // emitter slot
    float seed;                // per-particle random 0..1
    float pad;
};

struct Emitter {               // std430, 96 bytes
    vec4 position;             // xyz: world position, w: spawn radius
    vec4 velocity;             // xyz: mean velocity, w: random speed
    vec4 color_start;          // rgba at birth
    vec4 color_end;            // rgba at death
    float rate;                // particles per second
    float lifetime;            // mean lifetime (s), each particle 0.6..1.4 of it
    float size;                // world-space diameter
    float burst_time;          // sim time (s) of the last burst
    float gravity;             // multiplier of SimParams.gravity
    float drag;                // 1/s
    uint count;                // slots owned
    uint enabled;              // 0: no respawn
};

layout(std140, set = 0, binding = 0) uniform SimParams {
    vec4 gravity;              // xyz: units/s^2
    float dt;                  // s
    float time;                // s
    uint frame;                // frame number (random stream)
    uint particle_count;       // slots to simulate
    uint row_stride;           // invocations per dispatch row
} params;

layout(std430, set = 0, binding = 1) buffer ParticleBuffer {
    Particle particles[];
};

layout(std430, set = 0, binding = 2) readonly buffer EmitterBuffer {
    Emitter emitters[];
};

layout(std430, set = 0, binding = 3) buffer ParticleStats {
    uint alive;                // particles alive after this frame's step
    uint pad0;
    uint pad1;
    uint pad2;
} stats;

shared uint group_alive;

uint hash(uint x) {
    x ^= x >> 16; x *= 0x7feb352dU; x ^= x >> 15; x *= 0x846ca68bU; x ^= x >> 16;
    return x;
}

float rand(inout uint state) {
    state = hash(state);
    return float(state >> 8) * (1.0 / 16777216.0);
}

vec3 rand_dir(inout uint state) {
    float z = rand(state) * 2.0 - 1.0;
    float a = rand(state) * 6.2831853;
    float r = sqrt(max(1.0 - z * z, 0.0));
    return vec3(r * cos(a), z, r * sin(a));
}

bool simulate(uint i) {
    Particle p = particles[i];
    Emitter e = emitters[p.emitter];
    float dt = params.dt;
    if (p.pos_life.w > 0.0) {
        vec3 v = p.vel_age.xyz + params.gravity.xyz * (e.gravity * dt);
        v *= max(1.0 - e.drag * dt, 0.0);
        vec3 x = p.pos_life.xyz + v * dt;
        if (x.y < 0.0) {                       // bounce on the ground plane
            x.y = -x.y * 0.3;
            v.y = -v.y * 0.35;
            v.xz *= 0.7;
        }
        float left = p.pos_life.w - dt;
        float t = clamp(1.0 - left / p.vel_age.w, 0.0, 1.0);
        vec4 c = mix(e.color_start, e.color_end, t);
        c.a *= smoothstep(0.0, 0.08, t) * (1.0 - smoothstep(0.6, 1.0, t));
        p.pos_life = vec4(x, left);
        p.vel_age.xyz = v;
        p.color = c;
        if (left <= 0.0) {
            p.color.a = 0.0;
        }
    } else {
        float since = params.time - e.burst_time;
        bool burst = since >= 0.0 && since < dt * 0.5;
        uint state = hash(i * 0x9E3779B9U ^ hash(params.frame + 0x68E31DA4U));
        float free_slots = max(float(e.count) - e.rate * e.lifetime, 1.0);
        float chance = e.rate * dt / free_slots;
        if (e.enabled != 0U && (burst || rand(state) < chance)) {
            float life = e.lifetime * (0.6 + 0.8 * rand(state));
            vec3 offset = rand_dir(state) * (e.position.w * sqrt(rand(state)));
            vec3 v = e.velocity.xyz + rand_dir(state) * (e.velocity.w * (0.3 + 0.7 * rand(state)));
            p.pos_life = vec4(e.position.xyz + offset, life);
            p.vel_age = vec4(v, life);
            p.color = vec4(e.color_start.rgb, 0.0);
            p.size = e.size * (0.6 + 0.8 * rand(state));
            p.seed = rand(state);
        } else {
            p.color.a = 0.0;
        }
    }
    particles[i] = p;
    return p.pos_life.w > 0.0;
}

void main() {
    if (gl_LocalInvocationIndex == 0) {
        group_alive = 0;
    }
    barrier();
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * params.row_stride;
    if (i < params.particle_count && simulate(i)) {
        atomicAdd(group_alive, 1u);
    }
    barrier();
    if (gl_LocalInvocationIndex == 0 && group_alive > 0) {
        atomicAdd(stats.alive, group_alive);
    }
}
