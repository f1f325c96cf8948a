#version 450
// ResourceBinder test: set 0 binding 0 is a storage buffer here but a uniform buffer (Camera)
// in lit.vert, so merging the two stages must raise ConflictingBindingError.

layout(std430, set = 0, binding = 0) readonly buffer Camera {
    vec4 data[];
} camera;

layout(location = 0) out vec4 out_color;

void main() {
    out_color = camera.data[0];
}
