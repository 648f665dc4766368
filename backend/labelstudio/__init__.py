"""Label Studio's formats and API: labeling configs, annotations in, predictions out, task images, the client."""
