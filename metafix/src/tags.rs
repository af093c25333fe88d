//! The EXIF tags this crate knows: where each belongs and which types the EXIF 2.32
//! specification (as ExifTool's validator reads it) allows.

use crate::Ifd;
use crate::tiff::{ASCII, BYTE, LONG, RATIONAL, SHORT, SRATIONAL, UNDEFINED};

/// The IFD a tag belongs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Home {
    Ifd0,
    Ifd1,
    Exif,
    Gps,
    Interop,
}

/// One known tag.
#[derive(Debug)]
pub(crate) struct TagDef {
    pub id: u16,
    pub name: &'static str,
    pub home: Home,
    /// Allowed type codes, the first being the one to coerce to; empty for tags whose
    /// type this crate never changes (pointers, offsets, opaque blocks).
    pub formats: &'static [u16],
    /// The ExifVersion that introduced the tag (e.g. 231 for OffsetTime), 0 if older.
    pub version: u16,
}

/// Generated from ExifTool 12.57's Exif/GPS tables restricted to the EXIF 2.32 tags
/// its validator checks (`Validate.pm` `%exifSpec`), with its `%stdFormat` overrides.
static TAGS: &[TagDef] = &[
    TagDef {
        id: 0x0001,
        name: "InteropIndex",
        home: Home::Interop,
        formats: &[ASCII],
        version: 210,
    },
    TagDef {
        id: 0x0002,
        name: "InteropVersion",
        home: Home::Interop,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0x0100,
        name: "ImageWidth",
        home: Home::Ifd0,
        formats: &[SHORT, LONG],
        version: 0,
    },
    TagDef {
        id: 0x0101,
        name: "ImageHeight",
        home: Home::Ifd0,
        formats: &[SHORT, LONG],
        version: 0,
    },
    TagDef {
        id: 0x0102,
        name: "BitsPerSample",
        home: Home::Ifd0,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x0103,
        name: "Compression",
        home: Home::Ifd0,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x0106,
        name: "PhotometricInterpretation",
        home: Home::Ifd0,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x010e,
        name: "ImageDescription",
        home: Home::Ifd0,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x010f,
        name: "Make",
        home: Home::Ifd0,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0110,
        name: "Model",
        home: Home::Ifd0,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0111,
        name: "StripOffsets",
        home: Home::Ifd0,
        formats: &[SHORT, LONG],
        version: 0,
    },
    TagDef {
        id: 0x0112,
        name: "Orientation",
        home: Home::Ifd0,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x0115,
        name: "SamplesPerPixel",
        home: Home::Ifd0,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x0116,
        name: "RowsPerStrip",
        home: Home::Ifd0,
        formats: &[SHORT, LONG],
        version: 0,
    },
    TagDef {
        id: 0x0117,
        name: "StripByteCounts",
        home: Home::Ifd0,
        formats: &[SHORT, LONG],
        version: 0,
    },
    TagDef {
        id: 0x011a,
        name: "XResolution",
        home: Home::Ifd0,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x011b,
        name: "YResolution",
        home: Home::Ifd0,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x011c,
        name: "PlanarConfiguration",
        home: Home::Ifd0,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x0128,
        name: "ResolutionUnit",
        home: Home::Ifd0,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x012d,
        name: "TransferFunction",
        home: Home::Ifd0,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x0131,
        name: "Software",
        home: Home::Ifd0,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0132,
        name: "ModifyDate",
        home: Home::Ifd0,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x013b,
        name: "Artist",
        home: Home::Ifd0,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x013e,
        name: "WhitePoint",
        home: Home::Ifd0,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x013f,
        name: "PrimaryChromaticities",
        home: Home::Ifd0,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0201,
        name: "ThumbnailOffset",
        home: Home::Ifd1,
        formats: &[LONG],
        version: 0,
    },
    TagDef {
        id: 0x0202,
        name: "ThumbnailLength",
        home: Home::Ifd1,
        formats: &[LONG],
        version: 0,
    },
    TagDef {
        id: 0x0211,
        name: "YCbCrCoefficients",
        home: Home::Ifd0,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0212,
        name: "YCbCrSubSampling",
        home: Home::Ifd0,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x0213,
        name: "YCbCrPositioning",
        home: Home::Ifd0,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x0214,
        name: "ReferenceBlackWhite",
        home: Home::Ifd0,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x8298,
        name: "Copyright",
        home: Home::Ifd0,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x829a,
        name: "ExposureTime",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x829d,
        name: "FNumber",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x8769,
        name: "ExifOffset",
        home: Home::Ifd0,
        formats: &[],
        version: 0,
    },
    TagDef {
        id: 0x8822,
        name: "ExposureProgram",
        home: Home::Exif,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x8824,
        name: "SpectralSensitivity",
        home: Home::Exif,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x8825,
        name: "GPSInfo",
        home: Home::Ifd0,
        formats: &[],
        version: 200,
    },
    TagDef {
        id: 0x8827,
        name: "ISO",
        home: Home::Exif,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x8828,
        name: "Opto-ElectricConvFactor",
        home: Home::Exif,
        formats: &[],
        version: 0,
    },
    TagDef {
        id: 0x8830,
        name: "SensitivityType",
        home: Home::Exif,
        formats: &[SHORT],
        version: 230,
    },
    TagDef {
        id: 0x8831,
        name: "StandardOutputSensitivity",
        home: Home::Exif,
        formats: &[LONG],
        version: 230,
    },
    TagDef {
        id: 0x8832,
        name: "RecommendedExposureIndex",
        home: Home::Exif,
        formats: &[LONG],
        version: 230,
    },
    TagDef {
        id: 0x8833,
        name: "ISOSpeed",
        home: Home::Exif,
        formats: &[LONG],
        version: 230,
    },
    TagDef {
        id: 0x8834,
        name: "ISOSpeedLatitudeyyy",
        home: Home::Exif,
        formats: &[LONG],
        version: 230,
    },
    TagDef {
        id: 0x8835,
        name: "ISOSpeedLatitudezzz",
        home: Home::Exif,
        formats: &[LONG],
        version: 230,
    },
    TagDef {
        id: 0x9000,
        name: "ExifVersion",
        home: Home::Exif,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0x9003,
        name: "DateTimeOriginal",
        home: Home::Exif,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x9004,
        name: "CreateDate",
        home: Home::Exif,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x9010,
        name: "OffsetTime",
        home: Home::Exif,
        formats: &[ASCII],
        version: 231,
    },
    TagDef {
        id: 0x9011,
        name: "OffsetTimeOriginal",
        home: Home::Exif,
        formats: &[ASCII],
        version: 231,
    },
    TagDef {
        id: 0x9012,
        name: "OffsetTimeDigitized",
        home: Home::Exif,
        formats: &[ASCII],
        version: 231,
    },
    TagDef {
        id: 0x9101,
        name: "ComponentsConfiguration",
        home: Home::Exif,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0x9102,
        name: "CompressedBitsPerPixel",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x9201,
        name: "ShutterSpeedValue",
        home: Home::Exif,
        formats: &[SRATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x9202,
        name: "ApertureValue",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x9203,
        name: "BrightnessValue",
        home: Home::Exif,
        formats: &[SRATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x9204,
        name: "ExposureCompensation",
        home: Home::Exif,
        formats: &[SRATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x9205,
        name: "MaxApertureValue",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x9206,
        name: "SubjectDistance",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x9207,
        name: "MeteringMode",
        home: Home::Exif,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x9208,
        name: "LightSource",
        home: Home::Exif,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x9209,
        name: "Flash",
        home: Home::Exif,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x920a,
        name: "FocalLength",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x9214,
        name: "SubjectArea",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0x927c,
        name: "MakerNote",
        home: Home::Exif,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0x9286,
        name: "UserComment",
        home: Home::Exif,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0x9290,
        name: "SubSecTime",
        home: Home::Exif,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x9291,
        name: "SubSecTimeOriginal",
        home: Home::Exif,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x9292,
        name: "SubSecTimeDigitized",
        home: Home::Exif,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x9400,
        name: "AmbientTemperature",
        home: Home::Exif,
        formats: &[SRATIONAL],
        version: 231,
    },
    TagDef {
        id: 0x9401,
        name: "Humidity",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 231,
    },
    TagDef {
        id: 0x9402,
        name: "Pressure",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 231,
    },
    TagDef {
        id: 0x9403,
        name: "WaterDepth",
        home: Home::Exif,
        formats: &[SRATIONAL],
        version: 231,
    },
    TagDef {
        id: 0x9404,
        name: "Acceleration",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 231,
    },
    TagDef {
        id: 0x9405,
        name: "CameraElevationAngle",
        home: Home::Exif,
        formats: &[SRATIONAL],
        version: 231,
    },
    TagDef {
        id: 0xa000,
        name: "FlashpixVersion",
        home: Home::Exif,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0xa001,
        name: "ColorSpace",
        home: Home::Exif,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0xa002,
        name: "ExifImageWidth",
        home: Home::Exif,
        formats: &[SHORT, LONG],
        version: 0,
    },
    TagDef {
        id: 0xa003,
        name: "ExifImageHeight",
        home: Home::Exif,
        formats: &[SHORT, LONG],
        version: 0,
    },
    TagDef {
        id: 0xa004,
        name: "RelatedSoundFile",
        home: Home::Exif,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0xa005,
        name: "InteropOffset",
        home: Home::Exif,
        formats: &[],
        version: 210,
    },
    TagDef {
        id: 0xa20b,
        name: "FlashEnergy",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0xa20c,
        name: "SpatialFrequencyResponse",
        home: Home::Exif,
        formats: &[],
        version: 0,
    },
    TagDef {
        id: 0xa20e,
        name: "FocalPlaneXResolution",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0xa20f,
        name: "FocalPlaneYResolution",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0xa210,
        name: "FocalPlaneResolutionUnit",
        home: Home::Exif,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0xa214,
        name: "SubjectLocation",
        home: Home::Exif,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0xa215,
        name: "ExposureIndex",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0xa217,
        name: "SensingMethod",
        home: Home::Exif,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0xa300,
        name: "FileSource",
        home: Home::Exif,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0xa301,
        name: "SceneType",
        home: Home::Exif,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0xa302,
        name: "CFAPattern",
        home: Home::Exif,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0xa401,
        name: "CustomRendered",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0xa402,
        name: "ExposureMode",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0xa403,
        name: "WhiteBalance",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0xa404,
        name: "DigitalZoomRatio",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 220,
    },
    TagDef {
        id: 0xa405,
        name: "FocalLengthIn35mmFormat",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0xa406,
        name: "SceneCaptureType",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0xa407,
        name: "GainControl",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0xa408,
        name: "Contrast",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0xa409,
        name: "Saturation",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0xa40a,
        name: "Sharpness",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0xa40b,
        name: "DeviceSettingDescription",
        home: Home::Exif,
        formats: &[],
        version: 220,
    },
    TagDef {
        id: 0xa40c,
        name: "SubjectDistanceRange",
        home: Home::Exif,
        formats: &[SHORT],
        version: 220,
    },
    TagDef {
        id: 0xa420,
        name: "ImageUniqueID",
        home: Home::Exif,
        formats: &[ASCII],
        version: 220,
    },
    TagDef {
        id: 0xa430,
        name: "OwnerName",
        home: Home::Exif,
        formats: &[ASCII],
        version: 230,
    },
    TagDef {
        id: 0xa431,
        name: "SerialNumber",
        home: Home::Exif,
        formats: &[ASCII],
        version: 230,
    },
    TagDef {
        id: 0xa432,
        name: "LensInfo",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 230,
    },
    TagDef {
        id: 0xa433,
        name: "LensMake",
        home: Home::Exif,
        formats: &[ASCII],
        version: 230,
    },
    TagDef {
        id: 0xa434,
        name: "LensModel",
        home: Home::Exif,
        formats: &[ASCII],
        version: 230,
    },
    TagDef {
        id: 0xa435,
        name: "LensSerialNumber",
        home: Home::Exif,
        formats: &[ASCII],
        version: 230,
    },
    TagDef {
        id: 0xa460,
        name: "CompositeImage",
        home: Home::Exif,
        formats: &[SHORT],
        version: 232,
    },
    TagDef {
        id: 0xa461,
        name: "CompositeImageCount",
        home: Home::Exif,
        formats: &[SHORT],
        version: 232,
    },
    TagDef {
        id: 0xa462,
        name: "CompositeImageExposureTimes",
        home: Home::Exif,
        formats: &[UNDEFINED],
        version: 232,
    },
    TagDef {
        id: 0xa500,
        name: "Gamma",
        home: Home::Exif,
        formats: &[RATIONAL],
        version: 221,
    },
    TagDef {
        id: 0x0000,
        name: "GPSVersionID",
        home: Home::Gps,
        formats: &[BYTE],
        version: 0,
    },
    TagDef {
        id: 0x0001,
        name: "GPSLatitudeRef",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0002,
        name: "GPSLatitude",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0003,
        name: "GPSLongitudeRef",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0004,
        name: "GPSLongitude",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0005,
        name: "GPSAltitudeRef",
        home: Home::Gps,
        formats: &[BYTE],
        version: 0,
    },
    TagDef {
        id: 0x0006,
        name: "GPSAltitude",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0007,
        name: "GPSTimeStamp",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0008,
        name: "GPSSatellites",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0009,
        name: "GPSStatus",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x000a,
        name: "GPSMeasureMode",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x000b,
        name: "GPSDOP",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x000c,
        name: "GPSSpeedRef",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x000d,
        name: "GPSSpeed",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x000e,
        name: "GPSTrackRef",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x000f,
        name: "GPSTrack",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0010,
        name: "GPSImgDirectionRef",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0011,
        name: "GPSImgDirection",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0012,
        name: "GPSMapDatum",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0013,
        name: "GPSDestLatitudeRef",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0014,
        name: "GPSDestLatitude",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0015,
        name: "GPSDestLongitudeRef",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0016,
        name: "GPSDestLongitude",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0017,
        name: "GPSDestBearingRef",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x0018,
        name: "GPSDestBearing",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x0019,
        name: "GPSDestDistanceRef",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x001a,
        name: "GPSDestDistance",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
    TagDef {
        id: 0x001b,
        name: "GPSProcessingMethod",
        home: Home::Gps,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0x001c,
        name: "GPSAreaInformation",
        home: Home::Gps,
        formats: &[UNDEFINED],
        version: 0,
    },
    TagDef {
        id: 0x001d,
        name: "GPSDateStamp",
        home: Home::Gps,
        formats: &[ASCII],
        version: 0,
    },
    TagDef {
        id: 0x001e,
        name: "GPSDifferential",
        home: Home::Gps,
        formats: &[SHORT],
        version: 0,
    },
    TagDef {
        id: 0x001f,
        name: "GPSHPositioningError",
        home: Home::Gps,
        formats: &[RATIONAL],
        version: 0,
    },
];

/// Tags this crate must never coerce, move or drop on its own: they hold offsets into
/// the block or point at other IFDs.
pub(crate) const STRUCTURAL: [u16; 8] = [
    0x0111, 0x0117, 0x0201, 0x0202, 0x8769, 0x8825, 0xa005, 0x927c,
];

/// Looks a tag up by the IFD it was found in (GPS and Interop ids overlap the main table).
pub(crate) fn lookup(ifd: Ifd, id: u16) -> Option<&'static TagDef> {
    // TAGS holds the main table (with the two Interop tags) sorted by id, then GPS.
    let gps_start = TAGS.partition_point(|t| t.home != Home::Gps);
    let (main, gps) = TAGS.split_at(gps_start);
    let find = |table: &'static [TagDef]| {
        table
            .binary_search_by_key(&id, |t| t.id)
            .ok()
            .and_then(|i| table.get(i))
    };
    match ifd {
        Ifd::Gps => find(gps),
        Ifd::Interop => find(main),
        _ => find(main).filter(|t| t.home != Home::Interop),
    }
}

/// A tag's name as ExifTool prints it, for the IFD it is in.
pub(crate) fn name(ifd: Ifd, id: u16) -> Option<&'static str> {
    lookup(ifd, id).map(|t| t.name)
}

/// Resolves a user-given tag name (`"Software"`, case-insensitive) or number
/// (`"0x0131"`, `"305"`) to the tag ids it means in the main (IFD0/Exif) and GPS tables.
pub(crate) fn resolve(name: &str) -> Option<Vec<(Home, u16)>> {
    let name = name.trim();
    let number = if let Some(hex) = name.strip_prefix("0x").or_else(|| name.strip_prefix("0X")) {
        u16::from_str_radix(hex, 16).ok()
    } else if name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() {
        name.parse::<u16>().ok()
    } else {
        None
    };
    if let Some(id) = number {
        // A bare number means the main table: IFD0, IFD1 and the Exif IFD.
        return Some(vec![(Home::Ifd0, id)]);
    }
    let found: Vec<(Home, u16)> = TAGS
        .iter()
        .filter(|t| t.name.eq_ignore_ascii_case(name))
        .map(|t| (t.home, t.id))
        .collect();
    (!found.is_empty()).then_some(found)
}

/// Known aliases ExifTool users type for tags whose ExifTool name differs from the
/// EXIF specification's.
pub(crate) fn spec_alias(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "datetime" => "ModifyDate",
        "datetimedigitized" => "CreateDate",
        "isospeedratings" | "photographicsensitivity" => "ISO",
        "pixelxdimension" => "ExifImageWidth",
        "pixelydimension" => "ExifImageHeight",
        "imagelength" => "ImageHeight",
        "gpsinfo" | "gpsinfoifdpointer" => "GPSInfo",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_main_then_gps() {
        let gps_start = TAGS.partition_point(|t| t.home != Home::Gps);
        assert!(TAGS[gps_start..].iter().all(|t| t.home == Home::Gps));
        for part in [&TAGS[..gps_start], &TAGS[gps_start..]] {
            assert!(part.windows(2).all(|w| w[0].id < w[1].id));
        }
        assert_eq!(lookup(Ifd::Ifd0, 0x0131).map(|t| t.name), Some("Software"));
        assert_eq!(
            lookup(Ifd::Gps, 0x0001).map(|t| t.name),
            Some("GPSLatitudeRef")
        );
        assert_eq!(
            lookup(Ifd::Interop, 0x0001).map(|t| t.name),
            Some("InteropIndex")
        );
        assert!(lookup(Ifd::Exif, 0x0001).is_none());
    }
}
