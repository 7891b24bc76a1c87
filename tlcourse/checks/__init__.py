"""Self-checks of the lessons' exercises, one module per lesson, built on tlcourse.exercises.check."""
