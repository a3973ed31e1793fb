/** Constants of the VHDX on-disk format (MS-VHDX v1.0). */

export const KiB = 1024;
export const MiB = 1024 * 1024;

export const FILE_IDENTIFIER_SIGNATURE = "vhdxfile";
export const HEADER_OFFSETS = [64 * KiB, 128 * KiB] as const;
export const HEADER_SIZE = 4 * KiB;
export const REGION_TABLE_OFFSETS = [192 * KiB, 256 * KiB] as const;
export const REGION_TABLE_SIZE = 64 * KiB;
export const METADATA_TABLE_SIZE = 64 * KiB;

export const HEADER_SIGNATURE = "head";
export const REGION_SIGNATURE = "regi";
export const METADATA_SIGNATURE = "metadata";

export const REGION_BAT = "2DC27766-F623-4200-9D64-115E9BFD4A08";
export const REGION_METADATA = "8B7CA206-4790-4B9A-B8FE-575F050F886E";

export const META_FILE_PARAMETERS = "CAA16737-FA36-4D43-B3B6-33F0AA44E76B";
export const META_VIRTUAL_DISK_SIZE = "2FA54224-CD1B-4876-B211-5DBED83BF4B8";
export const META_PAGE83 = "BECA12AB-B2E6-4523-93EF-C309E000C746";
export const META_LOGICAL_SECTOR_SIZE = "8141BF1D-A96F-4709-BA47-F233A8FAAB5F";
export const META_PHYSICAL_SECTOR_SIZE = "CDA348C7-445D-4471-9CC9-E9885251C556";
export const META_PARENT_LOCATOR = "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C";

export const PARENT_LOCATOR_VHDX = "B04AEFB7-D19E-4A81-B789-25B8E9445913";

/** Payload block states (low 3 bits of a BAT entry). */
export const PAYLOAD_NOT_PRESENT = 0;
export const PAYLOAD_UNDEFINED = 1;
export const PAYLOAD_ZERO = 2;
export const PAYLOAD_UNMAPPED = 3;
/** Pre-1.0 drafts used 5 for UNMAPPED; readers treat it as 3. */
export const PAYLOAD_UNMAPPED_V095 = 5;
export const PAYLOAD_FULLY_PRESENT = 6;
export const PAYLOAD_PARTIALLY_PRESENT = 7;

export const SB_NOT_PRESENT = 0;
export const SB_PRESENT = 6;

/** A sector bitmap block is 1 MiB: one bit per logical sector of `chunkRatio` payload blocks. */
export const SECTOR_BITMAP_BLOCK_SIZE = MiB;
