package wechatsim

// library is the public template library every app sees: subscribe template titles by
// category (newtmpl) and legacy template message titles (wxopen/template/library).
// The content is invented but shaped like WeChat's: Chinese titles, typed keywords.
type library struct {
	categories []pubCategory
	titles     []pubTitle
	legacy     []legacyTitle
}

type pubCategory struct {
	ID   int
	Name string
}

type pubKeyword struct {
	Kid     int    `json:"kid"`
	Name    string `json:"name"`
	Example string `json:"example"`
	Rule    string `json:"rule"`
}

type pubTitle struct {
	Tid        int
	Title      string
	Type       int // 2 one-time, 3 long-term
	CategoryID int
	Keywords   []pubKeyword
}

type legacyKeyword struct {
	KeywordID int    `json:"keyword_id"`
	Name      string `json:"name"`
	Example   string `json:"example"`
}

type legacyTitle struct {
	ID       string
	Title    string
	Keywords []legacyKeyword
}

func (l *library) title(tid int) *pubTitle {
	for i := range l.titles {
		if l.titles[i].Tid == tid {
			return &l.titles[i]
		}
	}
	return nil
}

func (t *pubTitle) keyword(kid int) *pubKeyword {
	for i := range t.Keywords {
		if t.Keywords[i].Kid == kid {
			return &t.Keywords[i]
		}
	}
	return nil
}

func (l *library) legacyTitle(id string) *legacyTitle {
	for i := range l.legacy {
		if l.legacy[i].ID == id {
			return &l.legacy[i]
		}
	}
	return nil
}

func (t *legacyTitle) keyword(id int) *legacyKeyword {
	for i := range t.Keywords {
		if t.Keywords[i].KeywordID == id {
			return &t.Keywords[i]
		}
	}
	return nil
}

// Category ids of the seeded library.
const (
	CategoryExpress  = 307 // 快递、物流
	CategorySoftware = 616 // 软件服务提供商
	CategoryParking  = 411 // 停车服务
	CategoryTraining = 520 // 教育培训
)

func newLibrary() *library {
	kw := func(kid int, name, rule, example string) pubKeyword {
		return pubKeyword{Kid: kid, Name: name, Example: example, Rule: rule}
	}
	return &library{
		categories: []pubCategory{
			{CategoryExpress, "快递、物流"},
			{CategorySoftware, "软件服务提供商"},
			{CategoryParking, "停车服务"},
			{CategoryTraining, "教育培训"},
		},
		titles: []pubTitle{
			{99, "付款成功通知", 2, CategorySoftware, []pubKeyword{
				kw(1, "物品名称", RuleThing, "会员月卡"),
				kw(2, "付款金额", RuleAmount, "¥30.00"),
				kw(3, "付款时间", RuleTime, "2019年10月1日 15:01"),
				kw(4, "订单号", RuleCharacterString, "20191001150100001"),
				kw(5, "备注", RuleThing, "感谢您的支持"),
			}},
			{1001, "订单发货通知", 2, CategoryExpress, []pubKeyword{
				kw(1, "订单编号", RuleCharacterString, "SO20191001001"),
				kw(2, "商品名称", RuleThing, "无线耳机"),
				kw(3, "快递公司", RuleThing, "顺丰速运"),
				kw(4, "快递单号", RuleCharacterString, "SF1234567890"),
				kw(5, "发货时间", RuleTime, "2019-10-01 15:01"),
			}},
			{1002, "预约成功通知", 2, CategoryTraining, []pubKeyword{
				kw(1, "预约项目", RuleThing, "钢琴体验课"),
				kw(2, "预约时间", RuleDate, "2019年10月1日 15:01"),
				kw(3, "预约人", RuleName, "张三"),
				kw(4, "联系电话", RulePhoneNumber, "+86-0766-66888866"),
				kw(5, "温馨提示", RuleThing, "请提前十分钟到场"),
			}},
			{1003, "停车缴费通知", 2, CategoryParking, []pubKeyword{
				kw(1, "车牌号", RuleCarNumber, "粤A8Z888挂"),
				kw(2, "停车时长", RuleThing, "2小时15分钟"),
				kw(3, "缴费金额", RuleAmount, "12.00元"),
				kw(4, "入场时间", RuleTime, "15:01"),
			}},
			{1004, "审核结果通知", 2, CategorySoftware, []pubKeyword{
				kw(1, "审核结果", RulePhrase, "已通过"),
				kw(2, "审核时间", RuleTime, "2019年10月1日 15:01"),
				kw(3, "备注", RuleThing, "资料齐全"),
			}},
			{1005, "积分变动提醒", 2, CategorySoftware, []pubKeyword{
				kw(1, "变动数量", RuleNumber, "100"),
				kw(2, "当前积分", RuleNumber, "1280"),
				kw(3, "变动原因", RuleThing, "签到奖励"),
			}},
			{1006, "验证码通知", 2, CategorySoftware, []pubKeyword{
				kw(1, "验证码", RuleCharacterString, "A1B2-C3"),
				kw(2, "识别码", RuleLetter, "WX"),
				kw(3, "分隔符", RuleSymbol, "#"),
			}},
			{1007, "会议提醒", 2, CategoryTraining, []pubKeyword{
				kw(1, "会议主题", RuleThing, "季度总结会"),
				kw(2, "会议时间", RuleDate, "2019年10月1日 15:01"),
				kw(3, "会议地点", RuleThing, "TIT会议室"),
				kw(4, "主持人", RuleName, "李四"),
			}},
			{1008, "订单状态通知", 2, CategoryExpress, []pubKeyword{
				kw(1, "订单状态", RulePhrase, "配送中"),
				kw(2, "订单号", RuleCharacterString, "SO20191001001"),
				kw(3, "状态码", RuleLetter, "OK"),
				kw(4, "标记", RuleSymbol, "★"),
			}},
			{1009, "航班动态提醒", 3, CategoryExpress, []pubKeyword{
				kw(1, "航班号", RuleCharacterString, "CA1234"),
				kw(2, "起飞时间", RuleTime, "2019-10-01 15:01"),
				kw(3, "航班状态", RulePhrase, "已延误"),
			}},
		},
		legacy: []legacyTitle{
			{"AT0002", "购买成功通知", []legacyKeyword{
				{3, "购买地点", "TIT造舰厂"}, {4, "购买时间", "2016年6月6日"}, {5, "物品名称", "咖啡"},
			}},
			{"AT0003", "购买失败通知", []legacyKeyword{
				{1, "失败原因", "库存不足"}, {2, "物品名称", "咖啡"}, {3, "购买时间", "2016年6月6日"},
			}},
			{"AT0004", "交易提醒", []legacyKeyword{
				{1, "交易金额", "100元"}, {2, "交易时间", "2016年6月6日"}, {3, "交易类型", "消费"},
			}},
			{"AT0005", "付款成功通知", []legacyKeyword{
				{1, "付款金额", "30元"}, {2, "订单号", "20160606001"}, {3, "商品名称", "会员月卡"},
			}},
		},
	}
}
