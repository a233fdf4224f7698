//! The AWS partition a region belongs to: every ARN names it (`arn:aws:…` in commercial
//! regions, `arn:aws-us-gov:…` in GovCloud, `arn:aws-cn:…` in China), and an ARN with the wrong
//! one names no resource, so tags, claims and IAM hints would all miss.
//! (AWS General Reference, "Amazon Resource Names": the partition element.)

/// The partition of `region`, from its name's prefix as AWS assigns them.
pub fn of_region(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 7] = [
        ("us-gov-", "aws-us-gov"),
        ("cn-", "aws-cn"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// The partition an ARN names (its second field); `None` for text that is not an ARN.
pub fn of_arn(arn: &str) -> Option<&str> {
    let mut fields = arn.split(':');
    (fields.next() == Some("arn"))
        .then(|| fields.next())
        .flatten()
}

/// An API Gateway resource's ARN in `region`: `path` is the resource's path, like
/// `/restapis/a1b2c3d4e5/stages/prod`.
pub fn apigateway_arn(region: &str, path: &str) -> String {
    format!("arn:{}:apigateway:{region}::{path}", of_region(region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_region_names_its_own_partition() {
        assert_eq!(of_region("us-east-1"), "aws");
        assert_eq!(of_region("eu-central-2"), "aws");
        assert_eq!(of_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(of_region("us-gov-east-1"), "aws-us-gov");
        assert_eq!(of_region("cn-north-1"), "aws-cn");
        assert_eq!(of_region("cn-northwest-1"), "aws-cn");
        assert_eq!(of_region("us-iso-east-1"), "aws-iso");
        assert_eq!(of_region("us-isob-east-1"), "aws-iso-b");
        assert_eq!(of_region("eu-isoe-west-1"), "aws-iso-e");
        assert_eq!(of_region("us-isof-south-1"), "aws-iso-f");
        assert_eq!(of_region("eusc-de-east-1"), "aws-eusc");
    }

    #[test]
    fn api_gateway_arns_carry_the_regions_partition() {
        assert_eq!(
            apigateway_arn("cn-north-1", "/restapis/a1b2c3d4e5/stages/prod"),
            "arn:aws-cn:apigateway:cn-north-1::/restapis/a1b2c3d4e5/stages/prod"
        );
        assert_eq!(
            apigateway_arn("us-gov-west-1", "/usageplans/abc123"),
            "arn:aws-us-gov:apigateway:us-gov-west-1::/usageplans/abc123"
        );
        assert_eq!(
            apigateway_arn("us-east-1", "/tags/*"),
            "arn:aws:apigateway:us-east-1::/tags/*"
        );
    }

    #[test]
    fn an_arns_partition_is_its_second_field() {
        assert_eq!(
            of_arn("arn:aws-us-gov:iam::111122223333:role/x"),
            Some("aws-us-gov")
        );
        assert_eq!(of_arn("arn:aws:iam::111122223333:role/x"), Some("aws"));
        assert_eq!(of_arn("role/x"), None);
    }
}
