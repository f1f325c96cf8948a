#version 450
// Geometry shader: input arrays, an output I/O block and a UBO with a mat4 array.

layout(triangles) in;
layout(triangle_strip, max_vertices = 3) out;

layout(set = 0, binding = 0) uniform Cascades {
    mat4 lightViewProj[4];
    vec4 splits;
} cascades;

layout(location = 0) in vec3 vColor[];
layout(location = 1) in vec2 vUV[];

layout(location = 0) out GeomOut {
    vec3 color;
    vec2 uv;
} gout;

void main() {
    for (int i = 0; i < 3; ++i) {
        gl_Position = cascades.lightViewProj[i] * gl_in[i].gl_Position * cascades.splits.x;
        gout.color = vColor[i];
        gout.uv = vUV[i];
        EmitVertex();
    }
    EndPrimitive();
}
