// One orthogonal slice of the viewer, drawn as a full-viewport triangle.
//
// Every fragment maps its position in the view rectangle to a world point
// (RAS+ mm), then through each layer's inverse affine to voxel indices:
// the underlay (an fMRI frame or the template, f32, nearest or trilinear,
// window/level into a colour map) and the label volume (AAL3, u16,
// nearest only). Label colours and the masked flag come from a lookup
// texture; region edges are found by comparing the labels one screen pixel
// away, so outlines stay one pixel wide at every zoom. The hovered region
// is highlighted and the crosshair is drawn last.

struct View {
    // World point at the rectangle centre.
    centre: vec4<f32>,
    // World vector across the full width (left to right) and height (top to bottom).
    u_vec: vec4<f32>,
    v_vec: vec4<f32>,
    // World mm -> underlay / label voxel index (voxel centres at integers).
    under_from_world: mat4x4<f32>,
    label_from_world: mat4x4<f32>,
    // xyz = voxel counts.
    under_dims: vec4<f32>,
    label_dims: vec4<f32>,
    // x = display low, y = display high, z = underlay present, w = trilinear.
    window: vec4<f32>,
    // x = opacity, y = fill unmasked regions, z = hovered label, w = labels shown.
    labels: vec4<f32>,
    // xyz = crosshair (world mm), w = crosshair shown.
    cross: vec4<f32>,
    // x = mm per physical pixel, y = crosshair half-width in pixels, z = crosshair gap in pixels.
    pixel: vec4<f32>,
    cross_colour: vec4<f32>,
};

@group(0) @binding(0) var<uniform> view: View;
@group(0) @binding(1) var underlay: texture_3d<f32>;
@group(0) @binding(2) var label_volume: texture_3d<u32>;
@group(0) @binding(3) var colour_map: texture_2d<f32>;
@group(0) @binding(4) var label_lut: texture_2d<f32>;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    // A triangle covering the viewport: uv (0,0) top-left to (1,1) bottom-right.
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    var out: VertexOut;
    out.position = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

fn underlay_at(p: vec3<f32>) -> f32 {
    let dims = vec3<i32>(view.under_dims.xyz);
    if (view.window.w < 0.5) {
        let q = clamp(vec3<i32>(round(p)), vec3<i32>(0), dims - 1);
        return textureLoad(underlay, q, 0).r;
    }
    let base = floor(p);
    let f = p - base;
    let b = vec3<i32>(base);
    var acc = 0.0;
    for (var c = 0; c < 8; c++) {
        let o = vec3<i32>(c & 1, (c >> 1) & 1, (c >> 2) & 1);
        let q = clamp(b + o, vec3<i32>(0), dims - 1);
        let w = select(1.0 - f.x, f.x, o.x == 1) * select(1.0 - f.y, f.y, o.y == 1)
            * select(1.0 - f.z, f.z, o.z == 1);
        acc += w * textureLoad(underlay, q, 0).r;
    }
    return acc;
}

fn inside(p: vec3<f32>, dims: vec3<f32>) -> bool {
    return all(p >= vec3<f32>(-0.5)) && all(p < dims - 0.5);
}

fn label_at(world: vec3<f32>) -> u32 {
    if (view.labels.w < 0.5) {
        return 0u;
    }
    let p = (view.label_from_world * vec4<f32>(world, 1.0)).xyz;
    if (!inside(p, view.label_dims.xyz)) {
        return 0u;
    }
    return textureLoad(label_volume, vec3<i32>(round(p)), 0).r;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let world = view.centre.xyz + (in.uv.x - 0.5) * view.u_vec.xyz + (in.uv.y - 0.5) * view.v_vec.xyz;
    var colour = vec3<f32>(0.0);

    if (view.window.z > 0.5) {
        let p = (view.under_from_world * vec4<f32>(world, 1.0)).xyz;
        if (inside(p, view.under_dims.xyz)) {
            let value = underlay_at(p);
            let span = max(view.window.y - view.window.x, 1e-20);
            let t = clamp((value - view.window.x) / span, 0.0, 1.0);
            colour = textureLoad(colour_map, vec2<i32>(i32(t * 255.0 + 0.5), 0), 0).rgb;
        }
    }

    let px = view.pixel.x;
    let u_dir = normalize(view.u_vec.xyz);
    let v_dir = normalize(view.v_vec.xyz);
    let label = label_at(world);
    if (label > 0u) {
        let entry = textureLoad(label_lut, vec2<i32>(i32(label), 0), 0);
        let masked = entry.a > 0.5;
        let edge = label_at(world + px * u_dir) != label || label_at(world - px * u_dir) != label
            || label_at(world + px * v_dir) != label || label_at(world - px * v_dir) != label;
        let hovered = f32(label) == view.labels.z;
        let opacity = view.labels.x;
        var tint = entry.rgb;
        var alpha = 0.0;
        if (masked) {
            alpha = select(opacity, min(1.0, opacity + 0.35), edge);
        } else if (view.labels.y > 0.5) {
            alpha = select(0.45 * opacity, 0.8 * opacity, edge);
        } else {
            alpha = select(0.0, 0.85 * opacity, edge);
        }
        if (hovered) {
            tint = mix(tint, vec3<f32>(1.0), 0.45);
            alpha = select(max(alpha, 0.5 * opacity + 0.15), 1.0, edge);
        }
        colour = mix(colour, tint, alpha);
    }

    if (view.cross.w > 0.5) {
        let d = world - view.cross.xyz;
        let du = abs(dot(d, u_dir)) / px;
        let dv = abs(dot(d, v_dir)) / px;
        let gap = view.pixel.z;
        if ((du < view.pixel.y && dv > gap) || (dv < view.pixel.y && du > gap)) {
            colour = mix(colour, view.cross_colour.rgb, view.cross_colour.a);
        }
    }
    return vec4<f32>(colour, 1.0);
}
