-- DELETE /v1/models/{id} on the local trainer: the fine-tune's folder is removed and its job
-- remembers when (OpenAI's job keeps naming the model it made after the model is deleted).
ALTER TABLE trainer_jobs ADD COLUMN model_deleted_unix INTEGER;
