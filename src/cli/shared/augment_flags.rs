//! The data augmentation flags that `nabla train` and `nabla augment` share, and their checks.

use clap::Args;
use nabla::data::{Augmentation, Elastic};
use nabla::{Error, Result};

/// Data augmentation flags: each strength is the half-width of the uniform range that every
/// sample's transform is drawn from, anew for each sample.
#[derive(Args, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct AugmentArgs {
    /// Shift images by up to ±T pixels along x and along y.
    #[arg(long, value_name = "T")]
    pub translate: Option<f32>,
    /// Rotate images by up to ±DEG degrees about their centre.
    #[arg(long, value_name = "DEG")]
    pub rotate: Option<f32>,
    /// Scale images by a factor in 1 ± S (0.1: ±10%).
    #[arg(long, value_name = "S")]
    pub scale: Option<f32>,
    /// Elastic distortion (Simard et al. 2003): a random field smoothed by a Gaussian of std SIGMA
    /// pixels, times ALPHA; 34,4 for 28×28 digits.
    #[arg(long, value_name = "ALPHA,SIGMA")]
    pub elastic: Option<String>,
}

impl AugmentArgs {
    /// The [`Augmentation`] these flags ask for (a flag not given is off), checked.
    pub(crate) fn to_augmentation(&self) -> Result<Augmentation> {
        let elastic = match &self.elastic {
            None => None,
            Some(text) => {
                let bad = || {
                    Error::config(format!(
                        "--elastic {text}: expected ALPHA,SIGMA, two numbers such as 34,4 (Simard et al.'s values \
                         for 28×28 digits)"
                    ))
                };
                let (alpha, sigma) = text.split_once(',').ok_or_else(bad)?;
                let alpha = alpha.trim().parse().map_err(|_| bad())?;
                let sigma = sigma.trim().parse().map_err(|_| bad())?;
                Some(Elastic { alpha, sigma })
            }
        };
        let aug = Augmentation {
            translate: self.translate.unwrap_or(0.0),
            rotate: self.rotate.unwrap_or(0.0),
            scale: self.scale.unwrap_or(0.0),
            elastic,
        };
        aug.validate().map_err(|e| Error::config(format!("{e} (see --translate, --rotate, --scale, --elastic)")))?;
        Ok(aug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(elastic: Option<&str>) -> AugmentArgs {
        AugmentArgs { translate: Some(2.0), rotate: None, scale: Some(0.1), elastic: elastic.map(String::from) }
    }

    #[test]
    fn flags_not_given_are_off() {
        assert!(AugmentArgs::default().to_augmentation().unwrap().is_off());
        let aug = flags(Some("34, 4")).to_augmentation().unwrap();
        assert_eq!(
            aug,
            Augmentation {
                translate: 2.0,
                rotate: 0.0,
                scale: 0.1,
                elastic: Some(Elastic { alpha: 34.0, sigma: 4.0 })
            }
        );
    }

    #[test]
    fn bad_flags_say_what_was_expected() {
        for text in ["34", "34,x", "a,4"] {
            let message = flags(Some(text)).to_augmentation().unwrap_err().to_string();
            assert!(message.contains("ALPHA,SIGMA") && message.contains(text), "{message}");
        }
        let message = flags(Some("34,0")).to_augmentation().unwrap_err().to_string();
        assert!(message.contains("sigma") && message.contains("--elastic"), "{message}");
        let message = AugmentArgs { scale: Some(1.5), ..flags(None) }.to_augmentation().unwrap_err().to_string();
        assert!(message.contains("scale 1.5"), "{message}");
    }
}
