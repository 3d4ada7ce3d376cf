"""oximetry: blood oxygen saturation and tissue parameters from multispectral reflectance."""
