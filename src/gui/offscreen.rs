//! Headless rendering of the viewer: the same egui layout and the same
//! slice shaders, drawn into a wgpu texture and read back as an RGBA image.
//! Behind `roimae render` (figures, the README picture) and the viewer
//! frame-time benchmark. Needs a wgpu adapter (a GPU, or Mesa lavapipe).

use super::app::ViewerApp;
use super::error::GuiError;
use egui_wgpu::{RenderState, ScreenDescriptor, wgpu};
use std::time::Duration;

/// An RGBA8 image, row-major, top row first.
pub struct RgbaImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 4 bytes per pixel.
    pub pixels: Vec<u8>,
}

impl RgbaImage {
    /// Writes the image as PNG.
    pub fn save_png(&self, path: &std::path::Path) -> Result<(), GuiError> {
        image::save_buffer(
            path,
            &self.pixels,
            self.width,
            self.height,
            image::ExtendedColorType::Rgba8,
        )
        .map_err(|e| GuiError::Png {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// The pixel at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = 4 * (y as usize * self.width as usize + x as usize);
        [0, 1, 2, 3].map(|c| self.pixels[i + c])
    }
}

/// A wgpu device and egui context for drawing the viewer off screen.
pub struct Offscreen {
    /// The render state (device, queue, egui renderer).
    pub render_state: RenderState,
    /// The egui context the viewer runs in.
    pub ctx: egui::Context,
    /// The frame texture, kept while the size stays the same.
    target: Option<wgpu::Texture>,
}

impl Offscreen {
    /// Opens a wgpu adapter (no window needed).
    pub fn new() -> Result<Offscreen, GuiError> {
        let setup = egui_wgpu::WgpuSetup::CreateNew(
            egui_wgpu::WgpuSetupCreateNew::without_display_handle(),
        );
        let instance = pollster::block_on(setup.new_instance());
        let config = egui_wgpu::WgpuConfiguration {
            wgpu_setup: setup,
            ..Default::default()
        };
        let render_state = pollster::block_on(RenderState::create(
            &config,
            &instance,
            None,
            egui_wgpu::RendererOptions::default(),
        ))
        .map_err(|e| GuiError::NoAdapter {
            reason: e.to_string(),
        })?;
        let ctx = egui::Context::default();
        ctx.set_visuals(egui::Visuals::dark());
        Ok(Offscreen {
            render_state,
            ctx,
            target: None,
        })
    }

    /// The adapter's name and backend.
    pub fn adapter_name(&self) -> String {
        let info = self.render_state.adapter.get_info();
        format!("{} ({:?})", info.name, info.backend)
    }

    /// Runs one egui pass of `app` at `size` points and `scale` pixels per
    /// point, and renders it. `input` events are delivered in that pass.
    pub fn frame(
        &mut self,
        app: &mut ViewerApp,
        size: [u32; 2],
        scale: f32,
        events: Vec<egui::Event>,
    ) -> Result<RgbaImage, GuiError> {
        let input = raw_input(size, scale, events);
        let output = self.ctx.run_ui(input, |ui| app.show(ui));
        self.render(output, true)
    }

    /// Time of one frame at scale 1 (egui pass, draw, GPU finished),
    /// without reading the image back, and the part spent in the egui pass.
    pub fn frame_time(
        &mut self,
        app: &mut ViewerApp,
        size: [u32; 2],
        events: Vec<egui::Event>,
    ) -> Result<(Duration, Duration), GuiError> {
        let start = std::time::Instant::now();
        let input = raw_input(size, 1.0, events);
        let output = self.ctx.run_ui(input, |ui| app.show(ui));
        let ui = start.elapsed();
        self.render(output, false)?;
        Ok((start.elapsed(), ui))
    }

    /// Renders an egui pass into a texture and waits for the GPU; reads the
    /// pixels back when `read_back` (else the image has no pixels).
    fn render(
        &mut self,
        mut output: egui::FullOutput,
        read_back: bool,
    ) -> Result<RgbaImage, GuiError> {
        let rs = &self.render_state;
        let ppp = output.pixels_per_point;
        let size = self.ctx.content_rect().size() * ppp;
        let (width, height) = (size.x.round() as u32, size.y.round() as u32);
        let screen = ScreenDescriptor {
            size_in_pixels: [width, height],
            pixels_per_point: ppp,
        };
        let tessellated = self.ctx.tessellate(std::mem::take(&mut output.shapes), ppp);
        let mut renderer = rs.renderer.write();
        for (id, deltas) in output.textures_delta.set.drain() {
            for delta in deltas {
                renderer.update_texture(&rs.device, &rs.queue, id, &delta);
            }
        }
        let mut encoder = rs.device.create_command_encoder(&Default::default());
        let user =
            renderer.update_buffers(&rs.device, &rs.queue, &mut encoder, &tessellated, &screen);
        let reuse = self
            .target
            .as_ref()
            .is_some_and(|t| t.width() == width && t.height() == height);
        if !reuse {
            self.target = Some(rs.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("roimae offscreen frame"),
                size: wgpu::Extent3d {
                    width,
                    height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: rs.target_format,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            }));
        }
        let texture = self.target.as_ref().expect("the target was just made");
        let view = texture.create_view(&Default::default());
        {
            let mut pass = encoder
                .begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: Some("roimae offscreen pass"),
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &view,
                        resolve_target: None,
                        ops: wgpu::Operations {
                            load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                            store: wgpu::StoreOp::Store,
                        },
                        depth_slice: None,
                    })],
                    ..Default::default()
                })
                .forget_lifetime();
            renderer.render(&mut pass, &tessellated, &screen);
        }
        for id in output.textures_delta.free.drain() {
            renderer.free_texture(&id);
        }
        drop(renderer);
        if !read_back {
            let index = rs
                .queue
                .submit(user.into_iter().chain(std::iter::once(encoder.finish())));
            rs.device
                .poll(wgpu::PollType::Wait {
                    submission_index: Some(index),
                    timeout: Some(Duration::from_secs(60)),
                })
                .map_err(frame_error)?;
            return Ok(RgbaImage {
                width,
                height,
                pixels: Vec::new(),
            });
        }
        // Read back: rows padded to 256 bytes.
        let row = 4 * width as usize;
        let padded = row.div_ceil(256) * 256;
        let buffer = rs.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("roimae offscreen readback"),
            size: (padded * height as usize) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        encoder.copy_texture_to_buffer(
            texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded as u32),
                    rows_per_image: None,
                },
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
        let index = rs
            .queue
            .submit(user.into_iter().chain(std::iter::once(encoder.finish())));
        let slice = buffer.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| drop(tx.send(r)));
        rs.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(Duration::from_secs(60)),
            })
            .map_err(frame_error)?;
        rx.recv().map_err(frame_error)?.map_err(frame_error)?;
        let data = slice
            .get_mapped_range()
            .map_err(|e| frame_error(format!("{e:?}")))?;
        let bgra = matches!(
            rs.target_format,
            wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
        );
        let mut pixels = Vec::with_capacity(row * height as usize);
        for r in data.chunks_exact(padded) {
            for px in r[..row].chunks_exact(4) {
                if bgra {
                    pixels.extend([px[2], px[1], px[0], 255]);
                } else {
                    pixels.extend([px[0], px[1], px[2], 255]);
                }
            }
        }
        Ok(RgbaImage {
            width,
            height,
            pixels,
        })
    }
}

/// A GPU failure while finishing or reading back a frame.
fn frame_error(e: impl std::fmt::Display) -> GuiError {
    GuiError::Frame {
        reason: e.to_string(),
    }
}

/// One frame's input: a screen of `size` points at `scale` pixels per
/// point, and `events`. The scale is the display's (native) one, not a zoom:
/// egui applies a zoom change a pass late and meanwhile sizes the screen
/// from the previous pass (on the first pass, a default of 10 000 points).
fn raw_input(size: [u32; 2], scale: f32, events: Vec<egui::Event>) -> egui::RawInput {
    let mut input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(size[0] as f32, size[1] as f32),
        )),
        events,
        ..Default::default()
    };
    input
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .native_pixels_per_point = Some(scale);
    input
}
