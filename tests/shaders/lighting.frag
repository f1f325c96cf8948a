#version 450
// Fragment shader: combined and separate samplers, a storage image, arrays of samplers, an
// input attachment, a readonly std430 SSBO with a runtime array of structs, and push constants
// that start at offset 64.

struct PointLight {
    vec3 position;
    float radius;
    vec3 color;
    float intensity;
};

layout(std430, set = 0, binding = 0) readonly buffer LightBuffer {
    uint count;
    PointLight lights[];
} lightData;

layout(set = 1, binding = 0) uniform sampler2D albedoTex;
layout(set = 1, binding = 1) uniform texture2D normalTex;
layout(set = 1, binding = 2) uniform sampler linearSampler;
layout(set = 1, binding = 3, rgba8) uniform writeonly image2D debugImage;
layout(set = 1, binding = 4) uniform sampler2DArray shadowLayers;
layout(set = 1, binding = 5) uniform samplerCube envMaps[2];
layout(set = 1, binding = 6) uniform sampler2DShadow shadowMap;
layout(input_attachment_index = 0, set = 2, binding = 0) uniform subpassInput gbuffer;

layout(push_constant) uniform FragPush {
    layout(offset = 64) vec4 tint;
    float exposure;
    int lightIndex;
} fpush;

layout(location = 0) in vec3 fragColor;
layout(location = 1) in vec2 fragUV;
layout(location = 2) flat in uint fragMaterial;

layout(location = 0) out vec4 outColor;
layout(location = 1) out vec4 outNormal;

void main() {
    PointLight l = lightData.lights[fpush.lightIndex];
    vec4 albedo = texture(albedoTex, fragUV);
    vec4 n = texture(sampler2D(normalTex, linearSampler), fragUV);
    float layer = texture(shadowLayers, vec3(fragUV, 1.0)).r;
    float sh = texture(shadowMap, vec3(fragUV, 0.5));
    vec4 env = texture(envMaps[fragMaterial & 1u], n.xyz);
    vec4 g = subpassLoad(gbuffer);
    imageStore(debugImage, ivec2(gl_FragCoord.xy), n);
    outColor = albedo * fpush.tint * fpush.exposure * l.intensity * float(lightData.count)
             + vec4(l.color * fragColor, layer * sh) + env + g;
    outNormal = n;
}
