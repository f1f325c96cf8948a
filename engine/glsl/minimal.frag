#version 450
// games/minimal: the interpolated colour. The renderer's scene subpass has two colour
// attachments: the picture, and the G-buffer that light volumes read (0 = nothing to light).

layout(location = 0) in vec3 v_color;

layout(location = 0) out vec4 out_color;
layout(location = 1) out uvec2 out_surface;

void main() {
    out_color = vec4(v_color, 1.0);
    out_surface = uvec2(0u);
}
