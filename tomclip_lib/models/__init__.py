"""Models: the teacher (an open_clip CLIP) and the student (a Hugging Face encoder + pooling + head)."""
