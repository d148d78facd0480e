// The Uppy build the demo page loads from /vendor/uppy/uppy.js: @uppy/core
// and @uppy/aws-s3 as package-lock.json pins them, bundled into one ES
// module by esbuild (make tools), as an app's own build would.
export { default as Uppy } from '@uppy/core';
export { default as AwsS3 } from '@uppy/aws-s3';
