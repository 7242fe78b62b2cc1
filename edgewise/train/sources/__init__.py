"""Data sources. Each returns :class:`edgewise.train.data.RawSplits` of uint8 images and int64 labels."""
