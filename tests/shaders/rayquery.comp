// target-env: vulkan1.2
#version 460
// Ray query (SPIR-V 1.5, StorageBuffer storage class): an acceleration structure, an SSBO
// and local size 8x8x1.
#extension GL_EXT_ray_query : require

layout(local_size_x = 8, local_size_y = 8) in;

layout(set = 0, binding = 0) uniform accelerationStructureEXT scene;
layout(std430, set = 0, binding = 1) buffer Hits {
    uint hitCount;
    vec4 hits[];
} hitBuf;

void main() {
    rayQueryEXT q;
    vec3 origin = vec3(gl_GlobalInvocationID.xy, 0.0);
    rayQueryInitializeEXT(q, scene, gl_RayFlagsOpaqueEXT, 0xFF, origin, 0.0, vec3(0, 0, 1), 100.0);
    while (rayQueryProceedEXT(q)) {}
    if (rayQueryGetIntersectionTypeEXT(q, true) != gl_RayQueryCommittedIntersectionNoneEXT) {
        uint slot = atomicAdd(hitBuf.hitCount, 1u);
        hitBuf.hits[slot] = vec4(origin, rayQueryGetIntersectionTEXT(q, true));
    }
}
