//! GPU slice rendering for egui: the wgpu pipeline of `shaders/slice.wgsl`,
//! volume and lookup textures kept between frames, and the paint callback
//! that draws one view.
//!
//! Volumes are uploaded only when their [`TextureSource`] generation
//! changes (a new frame, a new file, a new selection), never when the slice
//! moves or the mouse hovers: those change only the per-view uniforms.

use egui_wgpu::wgpu;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The WGSL source, kept in `shaders/`.
pub const SLICE_SHADER: &str = include_str!("../../shaders/slice.wgsl");

static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// A fresh generation number: a texture source with a new number is uploaded.
pub fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// Texel data of a texture.
#[derive(Debug)]
pub enum Texels {
    /// A scalar volume (`R32Float`, 3D).
    Scalar(Arc<[f32]>),
    /// A label volume (`R16Uint`, 3D).
    Labels(Arc<[u16]>),
    /// A row of colours (`Rgba8Unorm`, 2D, height 1).
    Colours(Arc<[[u8; 4]]>),
}

/// Something to upload once and keep on the GPU, identified by a slot name
/// and a generation.
#[derive(Debug)]
pub struct TextureSource {
    /// Which texture slot this is (e.g. "underlay", "labels").
    pub slot: &'static str,
    /// Content version; bump with [`next_generation`] when the data change.
    pub generation: u64,
    /// Size in texels (x, y, z); colour rows use (n, 1, 1).
    pub dims: [u32; 3],
    /// The data, x fastest.
    pub texels: Texels,
}

impl TextureSource {
    /// A new source with a fresh generation.
    pub fn new(slot: &'static str, dims: [usize; 3], texels: Texels) -> Arc<TextureSource> {
        Arc::new(TextureSource {
            slot,
            generation: next_generation(),
            dims: dims.map(|d| d.max(1) as u32),
            texels,
        })
    }
}

/// Per-view parameters, laid out as the shader's `View` struct.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewUniforms {
    /// World point at the rectangle centre.
    pub centre: [f32; 3],
    /// World vector across the full width.
    pub u_vec: [f32; 3],
    /// World vector across the full height (downwards).
    pub v_vec: [f32; 3],
    /// Underlay voxel index from world mm (row-major 4x4).
    pub under_from_world: [[f32; 4]; 4],
    /// Label voxel index from world mm (row-major 4x4).
    pub label_from_world: [[f32; 4]; 4],
    /// Underlay voxel counts.
    pub under_dims: [f32; 3],
    /// Label voxel counts.
    pub label_dims: [f32; 3],
    /// Display range low/high.
    pub window: [f32; 2],
    /// Whether an underlay is drawn.
    pub underlay_shown: bool,
    /// Trilinear (true) or nearest-neighbour underlay sampling.
    pub trilinear: bool,
    /// Label overlay opacity 0..1.
    pub label_opacity: f32,
    /// Fill unmasked regions too (otherwise outline only).
    pub fill_unmasked: bool,
    /// Hovered label id (0 = none).
    pub hovered: u16,
    /// Whether labels are drawn.
    pub labels_shown: bool,
    /// Crosshair (world mm).
    pub crosshair: [f32; 3],
    /// Whether the crosshair is drawn.
    pub crosshair_shown: bool,
    /// Millimetres per physical pixel.
    pub mm_per_pixel: f32,
    /// Crosshair colour (RGBA, 0..1; alpha = blend).
    pub crosshair_colour: [f32; 4],
}

impl ViewUniforms {
    /// The uniform buffer contents (std140-compatible: vec4s and column-major mat4s).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut f: Vec<f32> = Vec::with_capacity(72);
        let v3 = |f: &mut Vec<f32>, v: [f32; 3], w: f32| f.extend([v[0], v[1], v[2], w]);
        let m4 = |f: &mut Vec<f32>, m: [[f32; 4]; 4]| {
            for col in 0..4 {
                f.extend(m.iter().map(|row| row[col]));
            }
        };
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        v3(&mut f, self.centre, 1.0);
        v3(&mut f, self.u_vec, 0.0);
        v3(&mut f, self.v_vec, 0.0);
        m4(&mut f, self.under_from_world);
        m4(&mut f, self.label_from_world);
        v3(&mut f, self.under_dims, 0.0);
        v3(&mut f, self.label_dims, 0.0);
        f.extend([
            self.window[0],
            self.window[1],
            b(self.underlay_shown),
            b(self.trilinear),
        ]);
        f.extend([
            self.label_opacity,
            b(self.fill_unmasked),
            self.hovered as f32,
            b(self.labels_shown),
        ]);
        v3(&mut f, self.crosshair, b(self.crosshair_shown));
        f.extend([self.mm_per_pixel, 0.75, 6.0, 0.0]);
        f.extend(self.crosshair_colour);
        f.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }
}

/// What one view draws: its uniforms and the textures it reads.
#[derive(Clone)]
pub struct SliceDraw {
    /// Distinguishes the views drawn in one frame (each keeps its own uniform buffer).
    pub view_key: u64,
    /// Uniforms of this view.
    pub uniforms: ViewUniforms,
    /// The underlay volume (None draws black).
    pub underlay: Option<Arc<TextureSource>>,
    /// The label volume (None draws no labels).
    pub labels: Option<Arc<TextureSource>>,
    /// The 256-entry colour map of the underlay.
    pub colour_map: Arc<TextureSource>,
    /// One colour per label id; alpha 255 marks a masked region.
    pub label_lut: Arc<TextureSource>,
}

struct GpuTexture {
    generation: u64,
    view: wgpu::TextureView,
}

struct ViewBinding {
    buffer: wgpu::Buffer,
    bind_group: Option<wgpu::BindGroup>,
    generations: [u64; 4],
}

/// Pipeline and textures, stored in egui_wgpu's callback resources.
pub struct SliceRenderer {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    textures: HashMap<&'static str, GpuTexture>,
    views: HashMap<u64, ViewBinding>,
    placeholders: [Arc<TextureSource>; 2],
    /// Bytes uploaded so far (volumes and lookup tables), for tests and benchmarks.
    pub uploaded_bytes: u64,
}

impl SliceRenderer {
    /// Builds the pipeline for `target_format` and stores it in the egui
    /// renderer's callback resources, where the paint callbacks find it.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let renderer = SliceRenderer::new(&render_state.device, render_state.target_format);
        render_state
            .renderer
            .write()
            .callback_resources
            .insert(renderer);
    }

    fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> SliceRenderer {
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("roimae slice shader"),
            source: wgpu::ShaderSource::Wgsl(SLICE_SHADER.into()),
        });
        let texture_entry = |binding, view_dimension, sample_type| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type,
                view_dimension,
                multisampled: false,
            },
            count: None,
        };
        let float = wgpu::TextureSampleType::Float { filterable: false };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("roimae slice bind group layout"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                texture_entry(1, wgpu::TextureViewDimension::D3, float),
                texture_entry(
                    2,
                    wgpu::TextureViewDimension::D3,
                    wgpu::TextureSampleType::Uint,
                ),
                texture_entry(3, wgpu::TextureViewDimension::D2, float),
                texture_entry(4, wgpu::TextureViewDimension::D2, float),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("roimae slice pipeline layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("roimae slice pipeline"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let placeholders = [
            TextureSource::new(
                "placeholder-scalar",
                [1, 1, 1],
                Texels::Scalar(Arc::new([0.0])),
            ),
            TextureSource::new(
                "placeholder-labels",
                [1, 1, 1],
                Texels::Labels(Arc::new([0])),
            ),
        ];
        SliceRenderer {
            pipeline,
            layout,
            textures: HashMap::new(),
            views: HashMap::new(),
            placeholders,
            uploaded_bytes: 0,
        }
    }

    /// Uploads `source` unless its generation is already on the GPU.
    fn ensure(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, source: &TextureSource) {
        if self
            .textures
            .get(source.slot)
            .is_some_and(|t| t.generation == source.generation)
        {
            return;
        }
        let [w, h, d] = source.dims;
        let (format, dimension, bytes, texel_bytes): (_, _, Vec<u8>, u32) = match &source.texels {
            Texels::Scalar(v) => (
                wgpu::TextureFormat::R32Float,
                wgpu::TextureDimension::D3,
                v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
                4,
            ),
            Texels::Labels(v) => (
                wgpu::TextureFormat::R16Uint,
                wgpu::TextureDimension::D3,
                v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
                2,
            ),
            Texels::Colours(v) => (
                wgpu::TextureFormat::Rgba8Unorm,
                wgpu::TextureDimension::D2,
                v.iter().flatten().copied().collect(),
                4,
            ),
        };
        let size = wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: d,
        };
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some(source.slot),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension,
            format,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        queue.write_texture(
            texture.as_image_copy(),
            &bytes,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(w * texel_bytes),
                rows_per_image: Some(h),
            },
            size,
        );
        self.uploaded_bytes += bytes.len() as u64;
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        self.textures.insert(
            source.slot,
            GpuTexture {
                generation: source.generation,
                view,
            },
        );
    }

    fn prepare_view(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, draw: &SliceDraw) {
        let [scalar, labels] = self.placeholders.clone();
        let sources = [
            draw.underlay.clone().unwrap_or(scalar),
            draw.labels.clone().unwrap_or(labels),
            draw.colour_map.clone(),
            draw.label_lut.clone(),
        ];
        for s in &sources {
            self.ensure(device, queue, s);
        }
        let generations = sources.each_ref().map(|s| s.generation);
        let binding = self
            .views
            .entry(draw.view_key)
            .or_insert_with(|| ViewBinding {
                buffer: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("roimae slice view uniforms"),
                    size: 288,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                bind_group: None,
                generations: [0; 4],
            });
        queue.write_buffer(&binding.buffer, 0, &draw.uniforms.to_bytes());
        if binding.bind_group.is_none() || binding.generations != generations {
            let views: Vec<&wgpu::TextureView> = sources
                .iter()
                .map(|s| &self.textures[s.slot].view)
                .collect();
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: binding.buffer.as_entire_binding(),
            }];
            for (i, view) in views.into_iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: wgpu::BindingResource::TextureView(view),
                });
            }
            binding.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("roimae slice bind group"),
                layout: &self.layout,
                entries: &entries,
            }));
            binding.generations = generations;
        }
    }
}

impl egui_wgpu::CallbackTrait for SliceDraw {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(renderer) = resources.get_mut::<SliceRenderer>() {
            renderer.prepare_view(device, queue, self);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(renderer) = resources.get::<SliceRenderer>() else {
            return;
        };
        let Some(bind_group) = renderer
            .views
            .get(&self.view_key)
            .and_then(|v| v.bind_group.as_ref())
        else {
            return;
        };
        pass.set_pipeline(&renderer.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.draw(0..3, 0..1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniforms_fill_the_shader_struct_exactly() {
        let u = ViewUniforms {
            centre: [1.0, 2.0, 3.0],
            u_vec: [0.0; 3],
            v_vec: [0.0; 3],
            under_from_world: [
                [1.0, 2.0, 3.0, 4.0],
                [5.0, 6.0, 7.0, 8.0],
                [9.0, 10.0, 11.0, 12.0],
                [0.0, 0.0, 0.0, 1.0],
            ],
            label_from_world: [[0.0; 4]; 4],
            under_dims: [1.0; 3],
            label_dims: [1.0; 3],
            window: [0.0, 1.0],
            underlay_shown: true,
            trilinear: false,
            label_opacity: 0.5,
            fill_unmasked: false,
            hovered: 7,
            labels_shown: true,
            crosshair: [0.0; 3],
            crosshair_shown: true,
            mm_per_pixel: 1.0,
            crosshair_colour: [1.0; 4],
        };
        let bytes = u.to_bytes();
        assert_eq!(bytes.len(), 288);
        let floats: Vec<f32> = bytes
            .chunks(4)
            .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        // Column-major: the first column of under_from_world is (1, 5, 9, 0).
        assert_eq!(&floats[12..16], &[1.0, 5.0, 9.0, 0.0]);
        assert_eq!(&floats[24..28], &[4.0, 8.0, 12.0, 1.0]);
        // window vec4 (low, high, shown, trilinear), then labels (opacity, fill, hovered, shown).
        assert_eq!(&floats[52..56], &[0.0, 1.0, 1.0, 0.0]);
        assert_eq!(&floats[56..60], &[0.5, 0.0, 7.0, 1.0]);
    }

    #[test]
    fn the_shader_parses_and_validates() {
        let module = wgpu::naga::front::wgsl::parse_str(SLICE_SHADER).expect("WGSL parses");
        wgpu::naga::valid::Validator::new(
            wgpu::naga::valid::ValidationFlags::all(),
            wgpu::naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .expect("WGSL validates");
    }
}
