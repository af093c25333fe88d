//! The EXIF tags this crate knows: where each belongs and which types the EXIF 2.32
//! specification (as ExifTool's validator reads it) allows.

use crate::Ifd;
use crate::tiff::{ASCII, BYTE, FieldType, LONG, RATIONAL, SHORT, SRATIONAL, UNDEFINED};

/// Named tag ids: the one vocabulary for tag numbers (no bare hex at call sites).
/// Those of the table, plus the pointers and opaque blocks it leaves out.
// The whole vocabulary is declared, not only the tags named at a call site today.
#[allow(dead_code)]
pub(crate) mod id {
    pub(crate) const INTEROP_INDEX: u16 = 0x0001;
    pub(crate) const INTEROP_VERSION: u16 = 0x0002;
    pub(crate) const IMAGE_WIDTH: u16 = 0x0100;
    pub(crate) const IMAGE_HEIGHT: u16 = 0x0101;
    pub(crate) const BITS_PER_SAMPLE: u16 = 0x0102;
    pub(crate) const COMPRESSION: u16 = 0x0103;
    pub(crate) const PHOTOMETRIC_INTERPRETATION: u16 = 0x0106;
    pub(crate) const IMAGE_DESCRIPTION: u16 = 0x010e;
    pub(crate) const MAKE: u16 = 0x010f;
    pub(crate) const MODEL: u16 = 0x0110;
    pub(crate) const STRIP_OFFSETS: u16 = 0x0111;
    pub(crate) const ORIENTATION: u16 = 0x0112;
    pub(crate) const SAMPLES_PER_PIXEL: u16 = 0x0115;
    pub(crate) const ROWS_PER_STRIP: u16 = 0x0116;
    pub(crate) const STRIP_BYTE_COUNTS: u16 = 0x0117;
    pub(crate) const X_RESOLUTION: u16 = 0x011a;
    pub(crate) const Y_RESOLUTION: u16 = 0x011b;
    pub(crate) const PLANAR_CONFIGURATION: u16 = 0x011c;
    pub(crate) const RESOLUTION_UNIT: u16 = 0x0128;
    pub(crate) const TRANSFER_FUNCTION: u16 = 0x012d;
    pub(crate) const SOFTWARE: u16 = 0x0131;
    pub(crate) const MODIFY_DATE: u16 = 0x0132;
    pub(crate) const ARTIST: u16 = 0x013b;
    pub(crate) const WHITE_POINT: u16 = 0x013e;
    pub(crate) const PRIMARY_CHROMATICITIES: u16 = 0x013f;
    pub(crate) const THUMBNAIL_OFFSET: u16 = 0x0201;
    pub(crate) const THUMBNAIL_LENGTH: u16 = 0x0202;
    pub(crate) const Y_CB_CR_COEFFICIENTS: u16 = 0x0211;
    pub(crate) const Y_CB_CR_SUB_SAMPLING: u16 = 0x0212;
    pub(crate) const Y_CB_CR_POSITIONING: u16 = 0x0213;
    pub(crate) const REFERENCE_BLACK_WHITE: u16 = 0x0214;
    pub(crate) const COPYRIGHT: u16 = 0x8298;
    pub(crate) const EXPOSURE_TIME: u16 = 0x829a;
    pub(crate) const F_NUMBER: u16 = 0x829d;
    pub(crate) const EXIF_OFFSET: u16 = 0x8769;
    pub(crate) const EXPOSURE_PROGRAM: u16 = 0x8822;
    pub(crate) const SPECTRAL_SENSITIVITY: u16 = 0x8824;
    pub(crate) const GPS_INFO: u16 = 0x8825;
    pub(crate) const ISO: u16 = 0x8827;
    pub(crate) const SENSITIVITY_TYPE: u16 = 0x8830;
    pub(crate) const STANDARD_OUTPUT_SENSITIVITY: u16 = 0x8831;
    pub(crate) const RECOMMENDED_EXPOSURE_INDEX: u16 = 0x8832;
    pub(crate) const ISO_SPEED: u16 = 0x8833;
    pub(crate) const ISO_SPEED_LATITUDE_YYY: u16 = 0x8834;
    pub(crate) const ISO_SPEED_LATITUDE_ZZZ: u16 = 0x8835;
    pub(crate) const EXIF_VERSION: u16 = 0x9000;
    pub(crate) const DATE_TIME_ORIGINAL: u16 = 0x9003;
    pub(crate) const CREATE_DATE: u16 = 0x9004;
    pub(crate) const OFFSET_TIME: u16 = 0x9010;
    pub(crate) const OFFSET_TIME_ORIGINAL: u16 = 0x9011;
    pub(crate) const OFFSET_TIME_DIGITIZED: u16 = 0x9012;
    pub(crate) const COMPONENTS_CONFIGURATION: u16 = 0x9101;
    pub(crate) const COMPRESSED_BITS_PER_PIXEL: u16 = 0x9102;
    pub(crate) const SHUTTER_SPEED_VALUE: u16 = 0x9201;
    pub(crate) const APERTURE_VALUE: u16 = 0x9202;
    pub(crate) const BRIGHTNESS_VALUE: u16 = 0x9203;
    pub(crate) const EXPOSURE_COMPENSATION: u16 = 0x9204;
    pub(crate) const MAX_APERTURE_VALUE: u16 = 0x9205;
    pub(crate) const SUBJECT_DISTANCE: u16 = 0x9206;
    pub(crate) const METERING_MODE: u16 = 0x9207;
    pub(crate) const LIGHT_SOURCE: u16 = 0x9208;
    pub(crate) const FLASH: u16 = 0x9209;
    pub(crate) const FOCAL_LENGTH: u16 = 0x920a;
    pub(crate) const SUBJECT_AREA: u16 = 0x9214;
    pub(crate) const MAKER_NOTE: u16 = 0x927c;
    pub(crate) const USER_COMMENT: u16 = 0x9286;
    pub(crate) const SUB_SEC_TIME: u16 = 0x9290;
    pub(crate) const SUB_SEC_TIME_ORIGINAL: u16 = 0x9291;
    pub(crate) const SUB_SEC_TIME_DIGITIZED: u16 = 0x9292;
    pub(crate) const AMBIENT_TEMPERATURE: u16 = 0x9400;
    pub(crate) const HUMIDITY: u16 = 0x9401;
    pub(crate) const PRESSURE: u16 = 0x9402;
    pub(crate) const WATER_DEPTH: u16 = 0x9403;
    pub(crate) const ACCELERATION: u16 = 0x9404;
    pub(crate) const CAMERA_ELEVATION_ANGLE: u16 = 0x9405;
    pub(crate) const FLASHPIX_VERSION: u16 = 0xa000;
    pub(crate) const COLOR_SPACE: u16 = 0xa001;
    pub(crate) const EXIF_IMAGE_WIDTH: u16 = 0xa002;
    pub(crate) const EXIF_IMAGE_HEIGHT: u16 = 0xa003;
    pub(crate) const RELATED_SOUND_FILE: u16 = 0xa004;
    pub(crate) const INTEROP_OFFSET: u16 = 0xa005;
    pub(crate) const FLASH_ENERGY: u16 = 0xa20b;
    pub(crate) const SPATIAL_FREQUENCY_RESPONSE: u16 = 0xa20c;
    pub(crate) const FOCAL_PLANE_X_RESOLUTION: u16 = 0xa20e;
    pub(crate) const FOCAL_PLANE_Y_RESOLUTION: u16 = 0xa20f;
    pub(crate) const FOCAL_PLANE_RESOLUTION_UNIT: u16 = 0xa210;
    pub(crate) const SUBJECT_LOCATION: u16 = 0xa214;
    pub(crate) const EXPOSURE_INDEX: u16 = 0xa215;
    pub(crate) const SENSING_METHOD: u16 = 0xa217;
    pub(crate) const FILE_SOURCE: u16 = 0xa300;
    pub(crate) const SCENE_TYPE: u16 = 0xa301;
    pub(crate) const CFA_PATTERN: u16 = 0xa302;
    pub(crate) const CUSTOM_RENDERED: u16 = 0xa401;
    pub(crate) const EXPOSURE_MODE: u16 = 0xa402;
    pub(crate) const WHITE_BALANCE: u16 = 0xa403;
    pub(crate) const DIGITAL_ZOOM_RATIO: u16 = 0xa404;
    pub(crate) const FOCAL_LENGTH_IN35MM_FORMAT: u16 = 0xa405;
    pub(crate) const SCENE_CAPTURE_TYPE: u16 = 0xa406;
    pub(crate) const GAIN_CONTROL: u16 = 0xa407;
    pub(crate) const CONTRAST: u16 = 0xa408;
    pub(crate) const SATURATION: u16 = 0xa409;
    pub(crate) const SHARPNESS: u16 = 0xa40a;
    pub(crate) const DEVICE_SETTING_DESCRIPTION: u16 = 0xa40b;
    pub(crate) const SUBJECT_DISTANCE_RANGE: u16 = 0xa40c;
    pub(crate) const IMAGE_UNIQUE_ID: u16 = 0xa420;
    pub(crate) const OWNER_NAME: u16 = 0xa430;
    pub(crate) const SERIAL_NUMBER: u16 = 0xa431;
    pub(crate) const LENS_INFO: u16 = 0xa432;
    pub(crate) const LENS_MAKE: u16 = 0xa433;
    pub(crate) const LENS_MODEL: u16 = 0xa434;
    pub(crate) const LENS_SERIAL_NUMBER: u16 = 0xa435;
    pub(crate) const COMPOSITE_IMAGE: u16 = 0xa460;
    pub(crate) const COMPOSITE_IMAGE_COUNT: u16 = 0xa461;
    pub(crate) const COMPOSITE_IMAGE_EXPOSURE_TIMES: u16 = 0xa462;
    pub(crate) const GAMMA: u16 = 0xa500;
    pub(crate) const GPS_VERSION_ID: u16 = 0x0000;
    pub(crate) const GPS_LATITUDE_REF: u16 = 0x0001;
    pub(crate) const GPS_LATITUDE: u16 = 0x0002;
    pub(crate) const GPS_LONGITUDE_REF: u16 = 0x0003;
    pub(crate) const GPS_LONGITUDE: u16 = 0x0004;
    pub(crate) const GPS_ALTITUDE_REF: u16 = 0x0005;
    pub(crate) const GPS_ALTITUDE: u16 = 0x0006;
    pub(crate) const GPS_TIME_STAMP: u16 = 0x0007;
    pub(crate) const GPS_SATELLITES: u16 = 0x0008;
    pub(crate) const GPS_STATUS: u16 = 0x0009;
    pub(crate) const GPS_MEASURE_MODE: u16 = 0x000a;
    pub(crate) const GPS_DOP: u16 = 0x000b;
    pub(crate) const GPS_SPEED_REF: u16 = 0x000c;
    pub(crate) const GPS_SPEED: u16 = 0x000d;
    pub(crate) const GPS_TRACK_REF: u16 = 0x000e;
    pub(crate) const GPS_TRACK: u16 = 0x000f;
    pub(crate) const GPS_IMG_DIRECTION_REF: u16 = 0x0010;
    pub(crate) const GPS_IMG_DIRECTION: u16 = 0x0011;
    pub(crate) const GPS_MAP_DATUM: u16 = 0x0012;
    pub(crate) const GPS_DEST_LATITUDE_REF: u16 = 0x0013;
    pub(crate) const GPS_DEST_LATITUDE: u16 = 0x0014;
    pub(crate) const GPS_DEST_LONGITUDE_REF: u16 = 0x0015;
    pub(crate) const GPS_DEST_LONGITUDE: u16 = 0x0016;
    pub(crate) const GPS_DEST_BEARING_REF: u16 = 0x0017;
    pub(crate) const GPS_DEST_BEARING: u16 = 0x0018;
    pub(crate) const GPS_DEST_DISTANCE_REF: u16 = 0x0019;
    pub(crate) const GPS_DEST_DISTANCE: u16 = 0x001a;
    pub(crate) const GPS_PROCESSING_METHOD: u16 = 0x001b;
    pub(crate) const GPS_AREA_INFORMATION: u16 = 0x001c;
    pub(crate) const GPS_DATE_STAMP: u16 = 0x001d;
    pub(crate) const GPS_DIFFERENTIAL: u16 = 0x001e;
    pub(crate) const GPS_H_POSITIONING_ERROR: u16 = 0x001f;
    /// SubIFD: vendor sub-IFDs (ExifTool lists it as one).
    pub(crate) const SUB_IFDS: u16 = 0x014a;
    /// GlobalParametersIFD.
    pub(crate) const GLOBAL_PARAMETERS_IFD: u16 = 0x0190;
    /// KodakIFD.
    pub(crate) const KODAK_IFD: u16 = 0x8290;
    /// LeafSubIFD.
    pub(crate) const LEAF_SUB_IFD: u16 = 0x888a;
    /// ProfileIFD (DNG extra camera profiles).
    pub(crate) const PROFILE_IFD: u16 = 0xc6f5;
    /// KDC_IFD (Kodak).
    pub(crate) const KDC_IFD: u16 = 0xfe00;
    /// NikonScanIFD (Nikon scanners write it in IFD0).
    pub(crate) const NIKON_SCAN_IFD: u16 = 0x0e10;
    /// PrintIM: opaque printer data.
    pub(crate) const PRINT_IM: u16 = 0xc4a5;
}

/// One known tag.
#[derive(Debug)]
pub(crate) struct TagDef {
    pub id: u16,
    pub name: &'static str,
    pub home: Ifd,
    /// Allowed type codes, the first being the one to coerce to; empty for tags whose
    /// type this crate never changes (pointers, offsets, opaque blocks).
    pub formats: &'static [FieldType],
    /// The ExifVersion that introduced the tag (e.g. 231 for OffsetTime), 0 if older.
    pub version: u16,
}

/// The table, one line per tag: (id, ExifTool's name, the IFD it belongs in, the
/// allowed types with the one to coerce to first, the ExifVersion that introduced it).
///
/// Transcribed from ExifTool 12.57: the tags of `Exif.pm` (`%Image::ExifTool::Exif::Main`)
/// and `GPS.pm` that its validator checks against the EXIF 2.32 specification
/// (`Validate.pm`, `%exifSpec`), with the types of `Validate.pm`'s `%stdFormat` where it
/// overrides `Exif.pm`'s `Writable`. The test `table_agrees_with_exiftool` (run when
/// `exiftool` is installed) checks every line's id and name against ExifTool's own
/// tables (`exiftool -listx`).
static TAGS: &[TagDef] = &[
    t(0x0001, "InteropIndex", Ifd::Interop, &[ASCII], 210),
    t(0x0002, "InteropVersion", Ifd::Interop, &[UNDEFINED], 0),
    t(0x0100, "ImageWidth", Ifd::Ifd0, &[SHORT, LONG], 0),
    t(0x0101, "ImageHeight", Ifd::Ifd0, &[SHORT, LONG], 0),
    t(0x0102, "BitsPerSample", Ifd::Ifd0, &[SHORT], 0),
    t(0x0103, "Compression", Ifd::Ifd0, &[SHORT], 0),
    t(0x0106, "PhotometricInterpretation", Ifd::Ifd0, &[SHORT], 0),
    t(0x010e, "ImageDescription", Ifd::Ifd0, &[ASCII], 0),
    t(0x010f, "Make", Ifd::Ifd0, &[ASCII], 0),
    t(0x0110, "Model", Ifd::Ifd0, &[ASCII], 0),
    t(0x0111, "StripOffsets", Ifd::Ifd0, &[SHORT, LONG], 0),
    t(0x0112, "Orientation", Ifd::Ifd0, &[SHORT], 0),
    t(0x0115, "SamplesPerPixel", Ifd::Ifd0, &[SHORT], 0),
    t(0x0116, "RowsPerStrip", Ifd::Ifd0, &[SHORT, LONG], 0),
    t(0x0117, "StripByteCounts", Ifd::Ifd0, &[SHORT, LONG], 0),
    t(0x011a, "XResolution", Ifd::Ifd0, &[RATIONAL], 0),
    t(0x011b, "YResolution", Ifd::Ifd0, &[RATIONAL], 0),
    t(0x011c, "PlanarConfiguration", Ifd::Ifd0, &[SHORT], 0),
    t(0x0128, "ResolutionUnit", Ifd::Ifd0, &[SHORT], 0),
    t(0x012d, "TransferFunction", Ifd::Ifd0, &[SHORT], 0),
    t(0x0131, "Software", Ifd::Ifd0, &[ASCII], 0),
    t(0x0132, "ModifyDate", Ifd::Ifd0, &[ASCII], 0),
    t(0x013b, "Artist", Ifd::Ifd0, &[ASCII], 0),
    t(0x013e, "WhitePoint", Ifd::Ifd0, &[RATIONAL], 0),
    t(0x013f, "PrimaryChromaticities", Ifd::Ifd0, &[RATIONAL], 0),
    t(0x0201, "ThumbnailOffset", Ifd::Ifd1, &[LONG], 0),
    t(0x0202, "ThumbnailLength", Ifd::Ifd1, &[LONG], 0),
    t(0x0211, "YCbCrCoefficients", Ifd::Ifd0, &[RATIONAL], 0),
    t(0x0212, "YCbCrSubSampling", Ifd::Ifd0, &[SHORT], 0),
    t(0x0213, "YCbCrPositioning", Ifd::Ifd0, &[SHORT], 0),
    t(0x0214, "ReferenceBlackWhite", Ifd::Ifd0, &[RATIONAL], 0),
    t(0x8298, "Copyright", Ifd::Ifd0, &[ASCII], 0),
    t(0x829a, "ExposureTime", Ifd::Exif, &[RATIONAL], 0),
    t(0x829d, "FNumber", Ifd::Exif, &[RATIONAL], 0),
    t(0x8769, "ExifOffset", Ifd::Ifd0, &[], 0),
    t(0x8822, "ExposureProgram", Ifd::Exif, &[SHORT], 0),
    t(0x8824, "SpectralSensitivity", Ifd::Exif, &[ASCII], 0),
    t(0x8825, "GPSInfo", Ifd::Ifd0, &[], 200),
    t(0x8827, "ISO", Ifd::Exif, &[SHORT], 0),
    t(0x8830, "SensitivityType", Ifd::Exif, &[SHORT], 230),
    t(0x8831, "StandardOutputSensitivity", Ifd::Exif, &[LONG], 230),
    t(0x8832, "RecommendedExposureIndex", Ifd::Exif, &[LONG], 230),
    t(0x8833, "ISOSpeed", Ifd::Exif, &[LONG], 230),
    t(0x8834, "ISOSpeedLatitudeyyy", Ifd::Exif, &[LONG], 230),
    t(0x8835, "ISOSpeedLatitudezzz", Ifd::Exif, &[LONG], 230),
    t(0x9000, "ExifVersion", Ifd::Exif, &[UNDEFINED], 0),
    t(0x9003, "DateTimeOriginal", Ifd::Exif, &[ASCII], 0),
    t(0x9004, "CreateDate", Ifd::Exif, &[ASCII], 0),
    t(0x9010, "OffsetTime", Ifd::Exif, &[ASCII], 231),
    t(0x9011, "OffsetTimeOriginal", Ifd::Exif, &[ASCII], 231),
    t(0x9012, "OffsetTimeDigitized", Ifd::Exif, &[ASCII], 231),
    t(
        0x9101,
        "ComponentsConfiguration",
        Ifd::Exif,
        &[UNDEFINED],
        0,
    ),
    t(0x9102, "CompressedBitsPerPixel", Ifd::Exif, &[RATIONAL], 0),
    t(0x9201, "ShutterSpeedValue", Ifd::Exif, &[SRATIONAL], 0),
    t(0x9202, "ApertureValue", Ifd::Exif, &[RATIONAL], 0),
    t(0x9203, "BrightnessValue", Ifd::Exif, &[SRATIONAL], 0),
    t(0x9204, "ExposureCompensation", Ifd::Exif, &[SRATIONAL], 0),
    t(0x9205, "MaxApertureValue", Ifd::Exif, &[RATIONAL], 0),
    t(0x9206, "SubjectDistance", Ifd::Exif, &[RATIONAL], 0),
    t(0x9207, "MeteringMode", Ifd::Exif, &[SHORT], 0),
    t(0x9208, "LightSource", Ifd::Exif, &[SHORT], 0),
    t(0x9209, "Flash", Ifd::Exif, &[SHORT], 0),
    t(0x920a, "FocalLength", Ifd::Exif, &[RATIONAL], 0),
    t(0x9214, "SubjectArea", Ifd::Exif, &[SHORT], 220),
    t(0x927c, "MakerNote", Ifd::Exif, &[UNDEFINED], 0),
    t(0x9286, "UserComment", Ifd::Exif, &[UNDEFINED], 0),
    t(0x9290, "SubSecTime", Ifd::Exif, &[ASCII], 0),
    t(0x9291, "SubSecTimeOriginal", Ifd::Exif, &[ASCII], 0),
    t(0x9292, "SubSecTimeDigitized", Ifd::Exif, &[ASCII], 0),
    t(0x9400, "AmbientTemperature", Ifd::Exif, &[SRATIONAL], 231),
    t(0x9401, "Humidity", Ifd::Exif, &[RATIONAL], 231),
    t(0x9402, "Pressure", Ifd::Exif, &[RATIONAL], 231),
    t(0x9403, "WaterDepth", Ifd::Exif, &[SRATIONAL], 231),
    t(0x9404, "Acceleration", Ifd::Exif, &[RATIONAL], 231),
    t(0x9405, "CameraElevationAngle", Ifd::Exif, &[SRATIONAL], 231),
    t(0xa000, "FlashpixVersion", Ifd::Exif, &[UNDEFINED], 0),
    t(0xa001, "ColorSpace", Ifd::Exif, &[SHORT], 0),
    t(0xa002, "ExifImageWidth", Ifd::Exif, &[SHORT, LONG], 0),
    t(0xa003, "ExifImageHeight", Ifd::Exif, &[SHORT, LONG], 0),
    t(0xa004, "RelatedSoundFile", Ifd::Exif, &[ASCII], 0),
    t(0xa005, "InteropOffset", Ifd::Exif, &[], 210),
    t(0xa20b, "FlashEnergy", Ifd::Exif, &[RATIONAL], 0),
    t(0xa20c, "SpatialFrequencyResponse", Ifd::Exif, &[], 0),
    t(0xa20e, "FocalPlaneXResolution", Ifd::Exif, &[RATIONAL], 0),
    t(0xa20f, "FocalPlaneYResolution", Ifd::Exif, &[RATIONAL], 0),
    t(0xa210, "FocalPlaneResolutionUnit", Ifd::Exif, &[SHORT], 0),
    t(0xa214, "SubjectLocation", Ifd::Exif, &[SHORT], 0),
    t(0xa215, "ExposureIndex", Ifd::Exif, &[RATIONAL], 0),
    t(0xa217, "SensingMethod", Ifd::Exif, &[SHORT], 0),
    t(0xa300, "FileSource", Ifd::Exif, &[UNDEFINED], 0),
    t(0xa301, "SceneType", Ifd::Exif, &[UNDEFINED], 0),
    t(0xa302, "CFAPattern", Ifd::Exif, &[UNDEFINED], 0),
    t(0xa401, "CustomRendered", Ifd::Exif, &[SHORT], 220),
    t(0xa402, "ExposureMode", Ifd::Exif, &[SHORT], 220),
    t(0xa403, "WhiteBalance", Ifd::Exif, &[SHORT], 220),
    t(0xa404, "DigitalZoomRatio", Ifd::Exif, &[RATIONAL], 220),
    t(0xa405, "FocalLengthIn35mmFormat", Ifd::Exif, &[SHORT], 220),
    t(0xa406, "SceneCaptureType", Ifd::Exif, &[SHORT], 220),
    t(0xa407, "GainControl", Ifd::Exif, &[SHORT], 220),
    t(0xa408, "Contrast", Ifd::Exif, &[SHORT], 220),
    t(0xa409, "Saturation", Ifd::Exif, &[SHORT], 220),
    t(0xa40a, "Sharpness", Ifd::Exif, &[SHORT], 220),
    t(0xa40b, "DeviceSettingDescription", Ifd::Exif, &[], 220),
    t(0xa40c, "SubjectDistanceRange", Ifd::Exif, &[SHORT], 220),
    t(0xa420, "ImageUniqueID", Ifd::Exif, &[ASCII], 220),
    t(0xa430, "OwnerName", Ifd::Exif, &[ASCII], 230),
    t(0xa431, "SerialNumber", Ifd::Exif, &[ASCII], 230),
    t(0xa432, "LensInfo", Ifd::Exif, &[RATIONAL], 230),
    t(0xa433, "LensMake", Ifd::Exif, &[ASCII], 230),
    t(0xa434, "LensModel", Ifd::Exif, &[ASCII], 230),
    t(0xa435, "LensSerialNumber", Ifd::Exif, &[ASCII], 230),
    t(0xa460, "CompositeImage", Ifd::Exif, &[SHORT], 232),
    t(0xa461, "CompositeImageCount", Ifd::Exif, &[SHORT], 232),
    t(
        0xa462,
        "CompositeImageExposureTimes",
        Ifd::Exif,
        &[UNDEFINED],
        232,
    ),
    t(0xa500, "Gamma", Ifd::Exif, &[RATIONAL], 221),
    t(0x0000, "GPSVersionID", Ifd::Gps, &[BYTE], 0),
    t(0x0001, "GPSLatitudeRef", Ifd::Gps, &[ASCII], 0),
    t(0x0002, "GPSLatitude", Ifd::Gps, &[RATIONAL], 0),
    t(0x0003, "GPSLongitudeRef", Ifd::Gps, &[ASCII], 0),
    t(0x0004, "GPSLongitude", Ifd::Gps, &[RATIONAL], 0),
    t(0x0005, "GPSAltitudeRef", Ifd::Gps, &[BYTE], 0),
    t(0x0006, "GPSAltitude", Ifd::Gps, &[RATIONAL], 0),
    t(0x0007, "GPSTimeStamp", Ifd::Gps, &[RATIONAL], 0),
    t(0x0008, "GPSSatellites", Ifd::Gps, &[ASCII], 0),
    t(0x0009, "GPSStatus", Ifd::Gps, &[ASCII], 0),
    t(0x000a, "GPSMeasureMode", Ifd::Gps, &[ASCII], 0),
    t(0x000b, "GPSDOP", Ifd::Gps, &[RATIONAL], 0),
    t(0x000c, "GPSSpeedRef", Ifd::Gps, &[ASCII], 0),
    t(0x000d, "GPSSpeed", Ifd::Gps, &[RATIONAL], 0),
    t(0x000e, "GPSTrackRef", Ifd::Gps, &[ASCII], 0),
    t(0x000f, "GPSTrack", Ifd::Gps, &[RATIONAL], 0),
    t(0x0010, "GPSImgDirectionRef", Ifd::Gps, &[ASCII], 0),
    t(0x0011, "GPSImgDirection", Ifd::Gps, &[RATIONAL], 0),
    t(0x0012, "GPSMapDatum", Ifd::Gps, &[ASCII], 0),
    t(0x0013, "GPSDestLatitudeRef", Ifd::Gps, &[ASCII], 0),
    t(0x0014, "GPSDestLatitude", Ifd::Gps, &[RATIONAL], 0),
    t(0x0015, "GPSDestLongitudeRef", Ifd::Gps, &[ASCII], 0),
    t(0x0016, "GPSDestLongitude", Ifd::Gps, &[RATIONAL], 0),
    t(0x0017, "GPSDestBearingRef", Ifd::Gps, &[ASCII], 0),
    t(0x0018, "GPSDestBearing", Ifd::Gps, &[RATIONAL], 0),
    t(0x0019, "GPSDestDistanceRef", Ifd::Gps, &[ASCII], 0),
    t(0x001a, "GPSDestDistance", Ifd::Gps, &[RATIONAL], 0),
    t(0x001b, "GPSProcessingMethod", Ifd::Gps, &[UNDEFINED], 0),
    t(0x001c, "GPSAreaInformation", Ifd::Gps, &[UNDEFINED], 0),
    t(0x001d, "GPSDateStamp", Ifd::Gps, &[ASCII], 0),
    t(0x001e, "GPSDifferential", Ifd::Gps, &[SHORT], 0),
    t(0x001f, "GPSHPositioningError", Ifd::Gps, &[RATIONAL], 0),
];

const fn t(
    id: u16,
    name: &'static str,
    home: Ifd,
    formats: &'static [FieldType],
    version: u16,
) -> TagDef {
    TagDef {
        id,
        name,
        home,
        formats,
        version,
    }
}

/// Tags this crate must never coerce, move or drop on its own: they hold offsets into
/// the block or point at other IFDs.
pub(crate) const STRUCTURAL: [u16; 15] = [
    id::STRIP_OFFSETS,
    id::STRIP_BYTE_COUNTS,
    id::THUMBNAIL_OFFSET,
    id::THUMBNAIL_LENGTH,
    id::EXIF_OFFSET,
    id::GPS_INFO,
    id::INTEROP_OFFSET,
    id::MAKER_NOTE,
    id::SUB_IFDS,
    id::GLOBAL_PARAMETERS_IFD,
    id::KODAK_IFD,
    id::LEAF_SUB_IFD,
    id::PROFILE_IFD,
    id::KDC_IFD,
    id::NIKON_SCAN_IFD,
];

/// Vendor sub-IFD pointers ExifTool follows from IFD0 (`Flags => 'SubIFD'` in its
/// `Exif.pm`, and Nikon's scan IFD): the tables they lead to are never moved, and
/// never zeroed when IFD0 is re-placed.
pub(crate) const VENDOR_SUB_IFDS: [u16; 7] = [
    id::SUB_IFDS,
    id::GLOBAL_PARAMETERS_IFD,
    id::KODAK_IFD,
    id::LEAF_SUB_IFD,
    id::PROFILE_IFD,
    id::KDC_IFD,
    id::NIKON_SCAN_IFD,
];

/// Looks a tag up by the IFD it was found in (GPS and Interop ids overlap the main table).
pub(crate) fn lookup(ifd: Ifd, id: u16) -> Option<&'static TagDef> {
    // TAGS holds the main table (with the two Interop tags) sorted by id, then GPS.
    let gps_start = TAGS.partition_point(|t| t.home != Ifd::Gps);
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
        _ => find(main).filter(|t| t.home != Ifd::Interop),
    }
}

/// A tag's name as ExifTool prints it, for the IFD it is in.
pub(crate) fn name(ifd: Ifd, id: u16) -> Option<&'static str> {
    lookup(ifd, id).map(|t| t.name)
}

/// Resolves a user-given tag name (`"Software"`, case-insensitive) or number
/// (`"0x0131"`, `"305"`) to the tag ids it means in the main (IFD0/Exif) and GPS tables.
pub(crate) fn resolve(name: &str) -> Option<Vec<(Ifd, u16)>> {
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
        return Some(vec![(Ifd::Ifd0, id)]);
    }
    let found: Vec<(Ifd, u16)> = TAGS
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
        let gps_start = TAGS.partition_point(|t| t.home != Ifd::Gps);
        assert!(TAGS[gps_start..].iter().all(|t| t.home == Ifd::Gps));
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

    /// Every line of the table names a tag ExifTool 12.57 has, under that id, in the
    /// main EXIF table or the GPS table (`exiftool -listx`). Skipped without ExifTool.
    #[test]
    fn table_agrees_with_exiftool() {
        let Ok(out) = std::process::Command::new("exiftool")
            .args(["-listx", "-exif:all"])
            .output()
        else {
            eprintln!("SKIPPED: exiftool is not installed");
            return;
        };
        let xml = String::from_utf8_lossy(&out.stdout);
        let mut known: Vec<(bool, u16, String)> = Vec::new();
        let mut gps = None;
        for line in xml.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("<table name='") {
                gps = match rest.split('\'').next() {
                    Some("Exif::Main") => Some(false),
                    Some("GPS::Main") => Some(true),
                    _ => None,
                };
            } else if let (Some(is_gps), Some(rest)) = (gps, line.strip_prefix("<tag id='")) {
                let mut parts = rest.split('\'');
                let id = parts.next().and_then(|n| n.parse::<u16>().ok());
                let name = parts.nth(1);
                if let (Some(id), Some(name)) = (id, name) {
                    known.push((is_gps, id, name.to_owned()));
                }
            }
        }
        assert!(
            known.len() > 300,
            "exiftool -listx gave {} tags",
            known.len()
        );
        // `-listx` leaves out the tags that are sub-directories (IFD pointers, MakerNote).
        let pointers = [
            id::EXIF_OFFSET,
            id::GPS_INFO,
            id::INTEROP_OFFSET,
            id::MAKER_NOTE,
        ];
        for t in TAGS.iter().filter(|t| !pointers.contains(&t.id)) {
            let is_gps = t.home == Ifd::Gps;
            assert!(
                known
                    .iter()
                    .any(|(g, id, name)| *g == is_gps && *id == t.id && name == t.name),
                "0x{:04x} {} is not in ExifTool's table",
                t.id,
                t.name
            );
        }
    }
}
