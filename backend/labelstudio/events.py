"""Label Studio webhook events the backend acts on."""

ANNOTATION_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED")
TRAINING_EVENTS = (*ANNOTATION_EVENTS, "START_TRAINING")  # START_TRAINING: the model card's "Start training"
