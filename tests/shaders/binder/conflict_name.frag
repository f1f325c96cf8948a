#version 450
// ResourceBinder test: the block name Camera sits at set 0 binding 1 here but at binding 0 in
// lit.vert, so merging the two stages must raise ConflictingBindingError.

layout(std140, set = 0, binding = 1) uniform Camera {
    mat4 view_proj;
    vec4 eye;
} camera;

layout(location = 0) out vec4 out_color;

void main() {
    out_color = camera.eye;
}
