"""Audio device adapters (ALSA through PyAudio, WAV files, tones, null) behind one Protocol."""
