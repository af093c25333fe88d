//! Structurally valid MP4 files (ftyp, moov with one avc1 video track, mdat) whose
//! sample data is seeded filler: enough for every parser (ExifTool, metafix) and for
//! throughput tests, which stream the mdat without holding it in memory.

use crate::rng::Rng;

/// What a video file says about itself.
#[derive(Debug, Clone)]
pub struct VideoSpec {
    /// Seconds since 1904-01-01 UTC (QuickTime epoch), or 0 for "unset".
    pub mac_time: u64,
    /// Pixel size.
    pub width: u16,
    /// Pixel size.
    pub height: u16,
    /// Media timescale (ticks per second), e.g. 30000.
    pub timescale: u32,
    /// Ticks per frame, e.g. 1001 for 29.97 fps.
    pub frame_ticks: u32,
    /// Number of frames.
    pub frames: u32,
    /// Bytes of sample data (mdat payload).
    pub payload_len: u64,
    /// Seed of the filler.
    pub payload_seed: u64,
}

/// Seconds between 1904-01-01 and 1970-01-01: QuickTime dates count from 1904.
pub const MAC_EPOCH_OFFSET: u64 = 2_082_844_800;

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    let size = u32::try_from(body.len() + 8).expect("metadata boxes are small");
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

fn full_box(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(body.len() + 4);
    b.push(version);
    b.extend_from_slice(&flags.to_be_bytes()[1..]);
    b.extend_from_slice(body);
    boxed(kind, &b)
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn matrix() -> Vec<u8> {
    MATRIX.iter().flat_map(|v| v.to_be_bytes()).collect()
}

impl VideoSpec {
    fn duration_ticks(&self) -> u64 {
        u64::from(self.frames) * u64::from(self.frame_ticks)
    }

    fn duration_ms(&self) -> u32 {
        u32::try_from(self.duration_ticks() * 1000 / u64::from(self.timescale.max(1)))
            .unwrap_or(u32::MAX)
    }

    fn time32(&self) -> u32 {
        u32::try_from(self.mac_time).unwrap_or(u32::MAX)
    }

    /// Everything before the sample data: ftyp, moov and the mdat header. The file is
    /// this followed by [`VideoSpec::payload_len`] bytes of [`payload_chunk`].
    pub fn head(&self) -> Vec<u8> {
        let ftyp = boxed(
            b"ftyp",
            &[
                b"isom".as_slice(),
                &512u32.to_be_bytes(),
                b"isom",
                b"iso2",
                b"avc1",
                b"mp41",
            ]
            .concat(),
        );
        // The moov size does not depend on the chunk offset value, so build it once
        // with a placeholder, then again with the real offset.
        let probe = self.moov(0);
        let large = self.payload_len + 8 > u64::from(u32::MAX);
        let mdat_header_len = if large { 16 } else { 8 };
        let data_offset = (ftyp.len() + probe.len() + mdat_header_len) as u64;
        let moov = self.moov(data_offset);
        let mut out = [ftyp, moov].concat();
        if large {
            out.extend_from_slice(&1u32.to_be_bytes());
            out.extend_from_slice(b"mdat");
            out.extend_from_slice(&(self.payload_len + 16).to_be_bytes());
        } else {
            out.extend_from_slice(
                &u32::try_from(self.payload_len + 8)
                    .unwrap_or(u32::MAX)
                    .to_be_bytes(),
            );
            out.extend_from_slice(b"mdat");
        }
        out
    }

    fn sample_sizes(&self) -> Vec<u32> {
        let n = u64::from(self.frames.max(1));
        let each = self.payload_len / n;
        let mut sizes = vec![u32::try_from(each).unwrap_or(u32::MAX); n as usize];
        if let Some(last) = sizes.last_mut() {
            *last = u32::try_from(self.payload_len - each * (n - 1)).unwrap_or(u32::MAX);
        }
        sizes
    }

    fn moov(&self, data_offset: u64) -> Vec<u8> {
        let t = self.time32();
        let mut mvhd = Vec::new();
        mvhd.extend_from_slice(&t.to_be_bytes()); // creation_time
        mvhd.extend_from_slice(&t.to_be_bytes()); // modification_time
        mvhd.extend_from_slice(&1000u32.to_be_bytes());
        mvhd.extend_from_slice(&self.duration_ms().to_be_bytes());
        mvhd.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
        mvhd.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
        mvhd.extend_from_slice(&[0; 10]);
        mvhd.extend_from_slice(&matrix());
        mvhd.extend_from_slice(&[0; 24]);
        mvhd.extend_from_slice(&2u32.to_be_bytes()); // next_track_ID
        let mvhd = full_box(b"mvhd", 0, 0, &mvhd);

        let mut tkhd = Vec::new();
        tkhd.extend_from_slice(&t.to_be_bytes());
        tkhd.extend_from_slice(&t.to_be_bytes());
        tkhd.extend_from_slice(&1u32.to_be_bytes()); // track_ID
        tkhd.extend_from_slice(&[0; 4]);
        tkhd.extend_from_slice(&self.duration_ms().to_be_bytes());
        tkhd.extend_from_slice(&[0; 8]);
        tkhd.extend_from_slice(&[0; 4]); // layer, alternate_group
        tkhd.extend_from_slice(&[0; 4]); // volume 0 (video), reserved
        tkhd.extend_from_slice(&matrix());
        tkhd.extend_from_slice(&(u32::from(self.width) << 16).to_be_bytes());
        tkhd.extend_from_slice(&(u32::from(self.height) << 16).to_be_bytes());
        let tkhd = full_box(b"tkhd", 0, 3, &tkhd);

        let mut mdhd = Vec::new();
        mdhd.extend_from_slice(&t.to_be_bytes());
        mdhd.extend_from_slice(&t.to_be_bytes());
        mdhd.extend_from_slice(&self.timescale.to_be_bytes());
        mdhd.extend_from_slice(
            &u32::try_from(self.duration_ticks())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        mdhd.extend_from_slice(&0x55c4u16.to_be_bytes()); // language "und"
        mdhd.extend_from_slice(&[0; 2]);
        let mdhd = full_box(b"mdhd", 0, 0, &mdhd);

        let hdlr = full_box(
            b"hdlr",
            0,
            0,
            &[&[0u8; 4][..], b"vide", &[0; 12], b"VideoHandler\0"].concat(),
        );
        let vmhd = full_box(b"vmhd", 0, 1, &[0; 8]);
        let dref = full_box(
            b"dref",
            0,
            0,
            &[&1u32.to_be_bytes()[..], &full_box(b"url ", 0, 1, &[])].concat(),
        );
        let dinf = boxed(b"dinf", &dref);

        // A plausible High-profile SPS/PPS: parsers read the header bytes only.
        let sps: &[u8] = &[
            0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10,
        ];
        let pps: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
        let mut avcc = vec![1, 0x64, 0x00, 0x1f, 0xff, 0xe1];
        avcc.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        avcc.extend_from_slice(sps);
        avcc.push(1);
        avcc.extend_from_slice(&(pps.len() as u16).to_be_bytes());
        avcc.extend_from_slice(pps);
        let avcc = boxed(b"avcC", &avcc);

        let mut avc1 = Vec::new();
        avc1.extend_from_slice(&[0; 6]);
        avc1.extend_from_slice(&1u16.to_be_bytes()); // data_reference_index
        avc1.extend_from_slice(&[0; 16]);
        avc1.extend_from_slice(&self.width.to_be_bytes());
        avc1.extend_from_slice(&self.height.to_be_bytes());
        avc1.extend_from_slice(&0x0048_0000u32.to_be_bytes());
        avc1.extend_from_slice(&0x0048_0000u32.to_be_bytes());
        avc1.extend_from_slice(&[0; 4]);
        avc1.extend_from_slice(&1u16.to_be_bytes()); // frame_count
        let mut name = [0u8; 32];
        let label = b"AVC Coding";
        name[0] = label.len() as u8;
        name[1..=label.len()].copy_from_slice(label);
        avc1.extend_from_slice(&name);
        avc1.extend_from_slice(&0x0018u16.to_be_bytes());
        avc1.extend_from_slice(&0xffffu16.to_be_bytes());
        avc1.extend_from_slice(&avcc);
        let avc1 = boxed(b"avc1", &avc1);
        let stsd = full_box(b"stsd", 0, 0, &[&1u32.to_be_bytes()[..], &avc1].concat());

        let stts = full_box(
            b"stts",
            0,
            0,
            &[1u32, self.frames, self.frame_ticks]
                .iter()
                .flat_map(|v| v.to_be_bytes())
                .collect::<Vec<_>>(),
        );
        let stsc = full_box(
            b"stsc",
            0,
            0,
            &[1u32, 1, self.frames, 1]
                .iter()
                .flat_map(|v| v.to_be_bytes())
                .collect::<Vec<_>>(),
        );
        let sizes = self.sample_sizes();
        let mut stsz = Vec::with_capacity(8 + 4 * sizes.len());
        stsz.extend_from_slice(&0u32.to_be_bytes());
        stsz.extend_from_slice(&(sizes.len() as u32).to_be_bytes());
        sizes
            .iter()
            .for_each(|s| stsz.extend_from_slice(&s.to_be_bytes()));
        let stsz = full_box(b"stsz", 0, 0, &stsz);
        // One chunk holding every sample; co64 so any size works.
        let co64 = full_box(
            b"co64",
            0,
            0,
            &[&1u32.to_be_bytes()[..], &data_offset.to_be_bytes()].concat(),
        );
        let stbl = boxed(b"stbl", &[stsd, stts, stsc, stsz, co64].concat());
        let minf = boxed(b"minf", &[vmhd, dinf, stbl].concat());
        let mdia = boxed(b"mdia", &[mdhd, hdlr, minf].concat());
        let trak = boxed(b"trak", &[tkhd, mdia].concat());
        boxed(b"moov", &[mvhd, trak].concat())
    }

    /// The whole file in memory (small videos only).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.head();
        let mut rng = Rng::new(self.payload_seed);
        let mut offset = 0;
        while offset < self.payload_len {
            let n = (self.payload_len - offset).min(PAYLOAD_CHUNK as u64) as usize;
            out.extend_from_slice(&payload_chunk(&mut rng, n));
            offset += n as u64;
        }
        out
    }
}

/// Size of one streamed piece of sample data.
pub const PAYLOAD_CHUNK: usize = 64 * 1024;

/// The next `n` bytes of sample data. Each frame would start with a 4-byte NAL
/// length in a real file; filler is fine for every parser that does not decode.
pub fn payload_chunk(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(payload_len: u64) -> VideoSpec {
        VideoSpec {
            mac_time: 3_600_000_000,
            width: 640,
            height: 360,
            timescale: 30000,
            frame_ticks: 1001,
            frames: 90,
            payload_len,
            payload_seed: 1,
        }
    }

    /// Walks top-level boxes; returns (kind, start, size).
    fn top_boxes(b: &[u8]) -> Vec<([u8; 4], usize, u64)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= b.len() {
            let size32 = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as u64;
            let kind: [u8; 4] = b[at + 4..at + 8].try_into().unwrap();
            let size = if size32 == 1 {
                u64::from_be_bytes(b[at + 8..at + 16].try_into().unwrap())
            } else {
                size32
            };
            out.push((kind, at, size));
            at += size as usize;
        }
        out
    }

    #[test]
    fn boxes_tile_the_file_and_chunk_offset_points_at_the_data() {
        let s = spec(50_000);
        let bytes = s.to_bytes();
        let boxes = top_boxes(&bytes);
        let kinds: Vec<_> = boxes.iter().map(|b| &b.0).collect();
        assert_eq!(kinds, [b"ftyp", b"moov", b"mdat"]);
        let (_, mdat_at, mdat_size) = boxes[2];
        assert_eq!(mdat_at as u64 + mdat_size, bytes.len() as u64);
        let co64 = bytes.windows(4).position(|w| w == b"co64").unwrap();
        let off = u64::from_be_bytes(bytes[co64 + 12..co64 + 20].try_into().unwrap());
        assert_eq!(off, mdat_at as u64 + 8);
    }

    #[test]
    fn zeroed_dates_stay_zero() {
        let mut s = spec(1000);
        s.mac_time = 0;
        let bytes = s.head();
        let mvhd = bytes.windows(4).position(|w| w == b"mvhd").unwrap();
        assert_eq!(&bytes[mvhd + 8..mvhd + 16], &[0; 8]);
    }

    #[test]
    fn head_length_plus_payload_is_the_file() {
        let s = spec(12_345);
        assert_eq!(
            s.head().len() as u64 + s.payload_len,
            s.to_bytes().len() as u64
        );
    }
}
