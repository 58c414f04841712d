/** Input limits applied by the contract layer (audit.publisher.* and audit.subscriber.* config). */
export interface InputLimits {
  readonly maxStringLength: number;
  readonly maxMetadataBytes: number;
  readonly maxMetadataDepth: number;
  /** Keys in metadata, counted over every nested object. */
  readonly maxMetadataKeys: number;
  readonly maxFilterValues: number;
  readonly maxBatchEvents: number;
}
