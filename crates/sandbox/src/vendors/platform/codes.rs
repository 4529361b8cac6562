//! The platform's status codes (seed 003's 状态码说明) and its answer envelope: HTTP 200,
//! `{"codeid", "message", …}`, the code in the body.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::vendor::VendorCode;

/// The platform's own text for a status code, verbatim from seed 003's 状态码说明
/// (lines 88-112); `None` for a code the table does not list.
pub fn message(code: i64) -> Option<&'static str> {
    Some(match code {
        10000 => "返回成功",
        10001 => "appid必须指定,可以我的应用里面查看",
        10002 => "sign值必须指定,加密规则请前往帮助中心查看",
        10003 => "sign值验证不通过,加密规则请前往帮助中心查看",
        10004 => "时差不能超过10分钟,可以不传递这个参数,注意时间戳单位是秒",
        10005 => "appid错误,请检查appid值,前往会员中心->我的应用查看或添加",
        10006 => "当前IP地址未授权,请前往用户中心->我的应用添加ip{@info}",
        10007 => "应用被禁用,请联系客服处理",
        10008 => "应用内没有该接口,请到我的应用里面添加这个接口",
        10009 => "api接口不存在",
        10010 => "您没有添加该api接口",
        10011 => "api已经到期",
        10012 => "没有订购任何api,请前往购买后再操作",
        10013 => "该接口已经暂停使用",
        10014 => "未知的错误,可以联系客服处理",
        10015 => "参数个数错误",
        10017 => "time必须是整型",
        10018 => "次数不足",
        10019 => "{@info}",
        10020 => "子接口不存在,可能已经被关闭",
        10021 => "服务器发生错误",
        10022 => "帐户余额不足,请充值!",
        10023 => "订单提交成功,等待回调结果",
        10024 => "调试模式数据",
        10025 => "查无数据",
        _ => return None,
    })
}

/// The envelope: `codeid` and `message`, then `extra`'s members; counted by `code`.
pub(crate) fn reply(code: i64, message: &str, extra: Map<String, Value>) -> Response {
    let mut body = extra;
    body.insert("codeid".into(), json!(code));
    body.insert("message".into(), json!(message));
    let mut res = Json(Value::Object(body)).into_response();
    res.extensions_mut().insert(VendorCode(code));
    res
}

/// A code of the table in the table's words, with `extra`'s members.
pub(crate) fn reply_code(code: i64, extra: Map<String, Value>) -> Response {
    reply(code, message(code).unwrap_or_default(), extra)
}

/// An injected `vendor_code` fault: the fault's text, else the table's. 10019's entry is
/// only the placeholder `{@info}` (line 104), which the platform fills at run time: the
/// sandbox sends the placeholder and gives the code no meaning of its own. A code the
/// table lacks has no vendor text to copy, so the answer says so rather than invent one.
pub(crate) fn injected(code: i64, msg: Option<&str>, extra: Map<String, Value>) -> Response {
    match msg.or_else(|| message(code)) {
        Some(text) => reply(code, text, extra),
        None => reply(
            code,
            &format!("sandbox: code {code} is not in seed 003's table; give the fault a msg"),
            extra,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 003's 状态码说明, lines 88-112, copied verbatim: every listed code answers in
    /// the table's words, 10019's placeholder `{@info}` included (line 104).
    #[test]
    fn the_code_table_is_the_seeds() {
        const SEED_003_LINES_88_TO_112: [&str; 25] = [
            "10000 返回成功",
            "10001 appid必须指定,可以我的应用里面查看",
            "10002 sign值必须指定,加密规则请前往帮助中心查看",
            "10003 sign值验证不通过,加密规则请前往帮助中心查看",
            "10004 时差不能超过10分钟,可以不传递这个参数,注意时间戳单位是秒",
            "10005 appid错误,请检查appid值,前往会员中心->我的应用查看或添加",
            "10006 当前IP地址未授权,请前往用户中心->我的应用添加ip{@info}",
            "10007 应用被禁用,请联系客服处理",
            "10008 应用内没有该接口,请到我的应用里面添加这个接口",
            "10009 api接口不存在",
            "10010 您没有添加该api接口",
            "10011 api已经到期",
            "10012 没有订购任何api,请前往购买后再操作",
            "10013 该接口已经暂停使用",
            "10014 未知的错误,可以联系客服处理",
            "10015 参数个数错误",
            "10019 {@info}",
            "10017 time必须是整型",
            "10018 次数不足",
            "10020 子接口不存在,可能已经被关闭",
            "10021 服务器发生错误",
            "10022 帐户余额不足,请充值!",
            "10023 订单提交成功,等待回调结果",
            "10024 调试模式数据",
            "10025 查无数据",
        ];
        for line in SEED_003_LINES_88_TO_112 {
            let (code, text) = line.split_once(' ').expect("code and text");
            let code: i64 = code.parse().expect("numeric code");
            assert_eq!(message(code), Some(text), "code {code}");
        }
        assert_eq!(message(10016), None, "not in the table");
    }

    async fn body(res: Response) -> Value {
        let bytes = axum::body::to_bytes(res.into_body(), 4096)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("json")
    }

    /// Seed 003 line 104: `10019 {@info}`. Injected without a text, the sandbox sends the
    /// placeholder, not a meaning of its own; with one, that text verbatim.
    #[tokio::test]
    async fn code_10019_passes_the_text_through() {
        assert_eq!(
            body(injected(10019, None, Map::new())).await,
            json!({"codeid": 10019, "message": "{@info}"})
        );
        assert_eq!(
            body(injected(10019, Some("车牌号格式不正确"), Map::new())).await,
            json!({"codeid": 10019, "message": "车牌号格式不正确"})
        );
        let unknown = body(injected(10016, None, Map::new())).await;
        assert!(
            unknown["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("sandbox:")),
            "{unknown}"
        );
    }

    /// The envelope's own members win over an `extra` that names them.
    #[tokio::test]
    async fn extra_members_follow_the_code() {
        let mut extra = Map::new();
        extra.insert("codeid".into(), json!(1));
        extra.insert("time".into(), json!("1557294956"));
        let res = reply_code(10025, extra);
        assert_eq!(
            res.extensions().get::<VendorCode>(),
            Some(&VendorCode(10025))
        );
        assert_eq!(
            body(res).await,
            json!({"codeid": 10025, "message": "查无数据", "time": "1557294956"})
        );
    }
}
