// The aws-ec2 provider adapter. See provider.ts for the overview.
export { AwsEc2Provider, createAwsEc2Provider, type AwsEc2ProviderOptions, type ListOptions, type PoolsInput } from './provider.ts';
export { type RetryOptions, DEFAULT_RETRY, backoffMs } from './retry.ts';
export { clientTokenFor, spillwayTags, CLIENT_TOKEN_MAX } from './launch.ts';
export { USER_DATA_LIMIT_BYTES, encodeUserData } from './user-data.ts';
export { mapEc2Error, retryClass, CAPACITY_CODES, QUOTA_CODES, THROTTLE_CODES, AUTH_CODES } from './errors.ts';
export { mapState, toInstance } from './instance.ts';
export { TERMINATE_BATCH } from './terminate.ts';
