"""Public estimate and invoice pages (/e/<token>, /i/<token>)."""
