"""The Firestore collections billing owns, each behind one module."""
