#version 450
// Vertex shader: vertex inputs, a std140 UBO (mat4, vec3, float, Light[4]), a UBO array and
// push constants.

struct Light {
    vec3 position;
    float radius;
    vec4 color;
};

layout(std140, set = 0, binding = 0) uniform GlobalUbo {
    mat4 viewProj;
    mat4 view;
    vec3 cameraPos;
    float time;
    Light lights[4];
    int lightCount;
} ubo;

layout(set = 0, binding = 1) uniform ModelMats {
    mat4 model;
    mat3 normalMat;
} mats[3];

layout(push_constant) uniform DrawPush {
    mat4 model;
    uint matIndex;
    float scale;
} push;

layout(location = 0) in vec3 inPosition;
layout(location = 1) in vec3 inNormal;
layout(location = 2) in vec2 inUV;
layout(location = 3) in uint inMaterial;
layout(location = 4) in mat4 inInstance;
layout(location = 8) in ivec4 inBones;

layout(location = 0) out vec3 fragColor;
layout(location = 1) out vec2 fragUV;
layout(location = 2) flat out uint fragMaterial;

void main() {
    vec3 lit = vec3(0.0);
    for (int i = 0; i < ubo.lightCount; ++i) {
        lit += ubo.lights[i].color.rgb * ubo.lights[i].radius * ubo.time;
    }
    mat4 model = mats[push.matIndex].model * push.model * inInstance;
    vec3 n = mats[push.matIndex].normalMat * inNormal;
    gl_Position = ubo.viewProj * ubo.view * model * vec4(inPosition * push.scale, 1.0);
    fragColor = lit + n + ubo.cameraPos + vec3(inBones.xyz);
    fragUV = inUV;
    fragMaterial = inMaterial;
}
